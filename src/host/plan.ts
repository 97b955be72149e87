/**
 * The sandbox's filesystem, hostname and network, decided on the host and
 * written as a list of operations that the launcher carries out in the new
 * namespaces between fork and exec (see `apply_plan` in launcher.c).
 *
 * Why on the host: the worker sees the same mount tree and files the host
 * sees (its mount namespace is a copy), so every decision can be made here,
 * in TypeScript; and doing the mounts from inside the worker through koffi
 * costs ~30 ms per sandbox (15 ms to load koffi, 15 ms for the module graph)
 * against ~1 ms in C.
 *
 * The result:
 *   /            copy-on-write overlay of the host's root (submounts too),
 *                upper layers on a private tmpfs, gone with the sandbox
 *   /proc        a fresh proc of the new PID namespace (/proc/sys read-only as root)
 *   /sys         a fresh sysfs of the new network namespace (read-only)
 *   /dev         a fresh tmpfs with the safe devices, own devpts, shm, mqueue
 *   /tmp         a fresh tmpfs (the working directory carried in, copy-on-write, if it was there)
 *   writable     host paths bound read-write, so their writes persist
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import type { NetworkMode } from '../options.ts'
import { STAGING_INSIDE } from '../protocol.ts'
import { isUnder, type MountEntry, parseMountinfo } from './mountinfo.ts'

const MS_RDONLY = 0x1
const MS_NOSUID = 0x2
const MS_NODEV = 0x4
const MS_NOEXEC = 0x8
const MS_REMOUNT = 0x20
const MS_BIND = 0x1000
const MS_REC = 0x4000

/** Filesystems that are not data: never overlaid, never copied. */
const PSEUDO = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'mqueue',
  'cgroup',
  'cgroup2',
  'bpf',
  'tracefs',
  'debugfs',
  'securityfs',
  'pstore',
  'configfs',
  'fusectl',
  'autofs',
  'binfmt_misc',
  'hugetlbfs',
  'efivarfs',
  'nsfs',
  'rpc_pipefs',
  'nfsd',
  'selinuxfs',
])
/** Made fresh in the sandbox: host mounts below them are not carried over. */
const FRESH = ['/proc', '/sys', '/dev', '/tmp']
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty']
/** Files bind-mounted on the host (Docker's /etc/hosts) are copied when at most this big. */
const COPY_LIMIT = 4 * 1024 * 1024
/** Where the launcher mounts its staging tmpfs, and so where the new root is built. */
const S = '/tmp'
const R = `${S}/root`

export interface FsPlanInput {
  strategy: 'root' | 'rootless'
  hostname: string
  network: NetworkMode
  writable: string[]
  /** Host paths under /tmp carried copy-on-write into the fresh /tmp. */
  keep: string[]
  cwd: string
  /**
   * Executables bound read-only from the host over their overlay view (the
   * Node that runs the sandbox's workers): see step 6b.
   */
  binaries?: string[]
  /** Directories bound read-only from the host (the `node_modules` trees): see step 6b. */
  readOnly?: string[]
}

/** What the host reads to decide; injectable so the planning is testable on a fake host. */
export interface HostView {
  mountinfo(): string
  stat(path: string): { isDirectory(): boolean; isFile(): boolean; size: number } | undefined
  readdir(path: string): { name: string; isDirectory(): boolean; isSymbolicLink(): boolean; isFile(): boolean }[]
  readlink(path: string): string
}

export const realHost: HostView = {
  mountinfo: () => readFileSync('/proc/self/mountinfo', 'utf8'),
  stat: (p) => {
    try {
      return statSync(p)
    } catch {
      return undefined
    }
  },
  readdir: (p) => readdirSync(p, { withFileTypes: true }),
  readlink: (p) => readlinkSync(p),
}

export interface FsPlan {
  /** The op list for the launcher (NS_ISOLATED_PLAN). */
  text: string
  /** Paths the setup itself writes in the overlay (not the command's writes). */
  created: string[]
}

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n')
}

export function buildPlan(input: FsPlanInput, host: HostView = realHost): FsPlan {
  const ops: string[] = []
  const created: string[] = []
  const op = (...fields: (string | number)[]) => ops.push(fields.map((f) => esc(String(f))).join('\t'))
  const rootless = input.strategy === 'rootless'
  /** The host path as the launcher reaches it once /tmp is covered by the staging tmpfs. */
  const src = (p: string) => (isUnder(p, '/tmp') ? `@tmp${p.slice(4)}` : p)
  let layers = 0
  const overlay = (path: string) => op('O', src(path), R + path, layers++, path, rootless ? 1 : 0)
  const copyFile = (path: string, size: number) => {
    if (size > COPY_LIMIT) {
      op('T', R + path)
      op('M', src(path), R + path, '-', MS_BIND, '-')
      op('R', R + path)
      op('N', `${path}: read-only (a bind-mounted file over ${COPY_LIMIT} bytes)`)
    } else op('F', src(path), R + path)
    created.push(path)
  }

  // Data mounts below the root, topmost per path, parents before children.
  const byPath = new Map<string, MountEntry>()
  for (const m of parseMountinfo(host.mountinfo())) {
    if (m.path === '/' || FRESH.some((d) => isUnder(m.path, d)) || PSEUDO.has(m.fstype)) continue
    byPath.set(m.path, m)
  }
  const submounts = [...byPath.keys()].sort((a, b) => a.split('/').length - b.split('/').length)
  // The paths under the host's /tmp carried into the fresh one (step 6).
  const keep = [...new Set([input.cwd, ...input.keep])]
    .filter((p) => isUnder(p, '/tmp') && p !== '/tmp' && !input.writable.some((w) => isUnder(p, w)))
    .sort()
  /** A host path the sandbox sees through an overlay: not under a fresh directory, unless a kept path brought it in. */
  const overlaid = (p: string) =>
    !input.writable.some((w) => isUnder(p, w)) &&
    (!FRESH.some((d) => isUnder(p, d)) || (isUnder(p, '/tmp') && keep.some((k) => isUnder(p, k))))
  const readOnly = (input.readOnly ?? []).filter(overlaid)
  // The Node binary: bound in step 6b, where the overlay would show it (not again inside a read-only tree).
  const binaries = (input.binaries ?? []).filter(
    (b) => overlaid(b) && !readOnly.some((d) => isUnder(b, d)) && host.stat(b)?.isFile(),
  )

  op('K') // keep the host's /tmp reachable
  op('M', 'ns-isolated', S, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0700')
  op('D', `${S}/upper`, '700')
  op('D', `${S}/work`, '700')
  op('D', R, '755')

  // 1. The root.
  if (!rootless) {
    overlay('/')
  } else {
    // In a user namespace inherited mounts are locked: an overlay cannot take
    // a lower layer with mounts below it ("failed to clone lowerpath"). So the
    // root is a tmpfs skeleton and each directory without submounts below it
    // gets its own overlay; directories that hold submounts are recreated as
    // skeletons too, down to the submounts.
    op('M', 'ns-isolated-root', R, 'tmpfs', MS_NOSUID, 'mode=0755')
    const lay = (dir: string) => {
      for (const e of host.readdir(dir)) {
        const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`
        if (e.isSymbolicLink()) {
          op('L', host.readlink(path), R + path)
        } else if (e.isDirectory()) {
          op('D', R + path, '755')
          if (FRESH.includes(path) || byPath.has(path)) continue // done below
          if (submounts.some((s) => s !== path && isUnder(s, path))) lay(path)
          else overlay(path)
        } else if (e.isFile() && !byPath.has(path) && !binaries.includes(path)) {
          // (a file that is a submount is copied below; the Node binary is bound in step 6b)
          copyFile(path, host.stat(path)?.size ?? 0)
        }
      }
    }
    lay('/')
  }

  // 2. Submounts: /home, /boot, a tmpfs /run, bind-mounted files, ...
  for (const path of submounts) {
    if (binaries.includes(path)) continue // (a sandbox inside a sandbox: bound in step 6b)
    const st = host.stat(path)
    if (!st) continue // not ours to see (EACCES) or gone
    if (st.isDirectory()) {
      op('D', R + path, '755')
      overlay(path)
    } else if (st.isFile()) copyFile(path, st.size)
  }

  // 3. /proc of the new PID namespace; as real root, the kernel's knobs read-only.
  op('D', `${R}/proc`, '555')
  op('M', 'proc', `${R}/proc`, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, '-')
  if (!rootless) {
    for (const p of ['sys', 'sysrq-trigger', 'irq', 'bus']) {
      op('m', `${R}/proc/${p}`, `${R}/proc/${p}`, '-', MS_BIND, '-')
      op('R', `${R}/proc/${p}`)
    }
    // The network's sysctls belong to our own namespace: leave them writable.
    if (input.network !== 'host') {
      op('m', '/proc/sys/net', `${R}/proc/sys/net`, '-', MS_BIND, '-')
      op('m', '-', `${R}/proc/sys/net`, '-', MS_BIND | MS_REMOUNT, '-')
    }
  }

  // 4. /sys: a fresh sysfs lists only our own network devices.
  op('D', `${R}/sys`, '555')
  if (input.network === 'host') op('M', '/sys', `${R}/sys`, '-', MS_BIND | MS_REC, '-')
  else {
    op('M', 'sysfs', `${R}/sys`, 'sysfs', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, '-')
    op('m', '/sys/fs/cgroup', `${R}/sys/fs/cgroup`, '-', MS_BIND | MS_REC, '-')
  }

  // 5. /dev: the harmless devices, a private devpts, shm and mqueue.
  const dev = `${R}/dev`
  op('D', dev, '755')
  op('M', 'ns-isolated-dev', dev, 'tmpfs', MS_NOSUID, 'mode=0755')
  for (const d of DEVICES) {
    op('T', `${dev}/${d}`)
    op('m', `/dev/${d}`, `${dev}/${d}`, '-', MS_BIND, '-')
  }
  op('D', `${dev}/pts`, '755')
  op('m', 'devpts', `${dev}/pts`, 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=620')
  op('L', 'pts/ptmx', `${dev}/ptmx`)
  op('D', `${dev}/shm`, '1777')
  op('M', 'shm', `${dev}/shm`, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=1777')
  op('D', `${dev}/mqueue`, '755')
  op('m', 'mqueue', `${dev}/mqueue`, 'mqueue', MS_NOSUID | MS_NODEV | MS_NOEXEC, '-')
  for (const [name, to] of [
    ['fd', '/proc/self/fd'],
    ['stdin', '/proc/self/fd/0'],
    ['stdout', '/proc/self/fd/1'],
    ['stderr', '/proc/self/fd/2'],
  ]) {
    op('L', to as string, `${dev}/${name}`)
  }
  // The staging tmpfs, read-only, so PID 1 can list what the sandbox wrote.
  const staging = dev + STAGING_INSIDE.slice('/dev'.length)
  op('D', staging, '700')
  op('M', S, staging, '-', MS_BIND, '-')
  op('R', staging)

  // 6. A fresh /tmp; the working directory and the paths to keep, if they were
  //    under the host's /tmp, come in copy-on-write.
  op('D', `${R}/tmp`, '1777')
  op('M', 'ns-isolated-tmp', `${R}/tmp`, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=1777')
  for (const p of keep) {
    if (keep.some((k) => k !== p && isUnder(p, k))) continue // inside another kept path
    const st = host.stat(p)
    if (!st) continue
    if (st.isDirectory()) {
      op('D', R + p, '755')
      overlay(p)
    } else {
      op('D', (R + p).slice(0, (R + p).lastIndexOf('/')), '755')
      copyFile(p, st.size)
    }
  }

  // 6b. The Node binary, bound read-only from the host. V8 maps its ~2 MB of
  //     builtins near its code by mapping the binary's pages again, but only
  //     if the file it opens (the path in /proc/self/maps) has the st_dev and
  //     st_ino of the mapping; through the overlay they differ, and every Node
  //     in the sandbox copies the builtins into private memory instead (~2.5
  //     ms of CPU and ~520 page faults a start, measured). The mount point is
  //     created only where it is missing (a rootless skeleton directory): the
  //     launcher's 'T' leaves an existing file alone, so nothing is copied up.
  for (const b of binaries) {
    op('T', R + b)
    op('M', src(b), R + b, '-', MS_BIND, '-')
    op('R', R + b)
  }

  //     And the directories bound read-only: the node_modules trees
  //     (host/node-modules.ts says why). Both after the overlays and the kept
  //     paths they sit in, before the writable paths that may sit in them;
  //     one under /tmp only where a kept path brought it in, none inside a
  //     writable path (bound read-write anyway).
  for (const d of readOnly) {
    op('M', src(d), R + d, '-', MS_BIND | MS_REC, '-')
    op('R', R + d)
  }

  // 7. Writable paths: bound read-write, last, so they win over the overlays.
  for (const w of input.writable) {
    const st = host.stat(w)
    if (st?.isDirectory()) op('D', R + w, '755')
    else {
      op('D', (R + w).slice(0, (R + w).lastIndexOf('/')), '755')
      op('T', R + w)
      created.push(w)
    }
    op('M', src(w), R + w, '-', MS_BIND | MS_REC, '-')
  }

  // 8. Hostname, network, and into the new root.
  op('H', input.hostname)
  if (input.network === 'loopback') op('U')
  op('P', R, input.cwd)
  return { text: `${ops.join('\n')}\n`, created }
}
