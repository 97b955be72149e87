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
 *   /            copy-on-write overlay of the host's root (submounts too)
 *   /proc        a fresh proc of the new PID namespace (/proc/sys read-only as
 *                root, the files that list the host's tasks masked)
 *   /sys         a fresh sysfs of the new network namespace (read-only);
 *                /sys/fs/cgroup the host's, read-only, or the sandbox's own
 *   /dev         the safe devices, own devpts, shm, mqueue
 *   /tmp         fresh (the working directory carried in, copy-on-write, if it was there)
 *   writable     host paths bound read-write, so their writes persist
 * Everything the sandbox writes outside its writable paths (the upper layers,
 * /tmp, /dev, /dev/shm) lands on one private tmpfs of a bounded size, gone
 * with the sandbox. Then the command loses what it must not have (step 9).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import type { NetworkMode } from '../options.ts'
import { STAGING_INSIDE } from '../protocol.ts'
import { isUnder, type MountEntry, parseMountinfo } from './mountinfo.ts'
import type { Lockdown } from './privileges.ts'

const MS_RDONLY = 0x1
const MS_NOSUID = 0x2
const MS_NODEV = 0x4
const MS_NOEXEC = 0x8
const MS_REMOUNT = 0x20
const MS_RELATIME = 0x200000
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
/** /proc files masked with /dev/null where they exist: they list the host's tasks or keys, or its memory (Docker's list). */
const PROC_MASKED = ['kcore', 'keys', 'latency_stats', 'timer_list', 'timer_stats', 'sched_debug']
/** /proc entries read-only as root (the kernel's knobs). */
const PROC_READ_ONLY = ['sys', 'sysrq-trigger', 'irq', 'bus']
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
  /** Size of the sandbox's tmpfs (upper layers, /tmp, /dev/shm), in bytes. */
  tmpfsBytes: number
  /**
   * /sys/fs/cgroup inside: `'host'`, the host's hierarchy read-only; `'own'`,
   * a cgroup2 mount of the sandbox's own cgroup namespace (v2 with
   * nsdelegate: the kernel keeps its caps out of reach); `'none'`.
   */
  cgroupfs: 'host' | 'own' | 'none'
  /** What the command may do (step 9); null: everything (`privileged`). */
  lockdown: Lockdown | null
}

/** What the host reads to decide; injectable so the planning is testable on a fake host. */
export interface HostView {
  mountinfo(): string
  stat(
    path: string,
  ): { isDirectory(): boolean; isFile(): boolean; size: number; mode?: number; uid?: number } | undefined
  readdir(path: string): { name: string; isDirectory(): boolean; isSymbolicLink(): boolean; isFile(): boolean }[]
  readlink(path: string): string
  /** A text file's content, '' when it cannot be read. */
  readText(path: string): string
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
  readText: (p) => {
    try {
      return readFileSync(p, 'utf8')
    } catch {
      return ''
    }
  },
}

/**
 * The sandbox's /etc/hosts: the host's entries, plus what a well-configured
 * host has and many minimal images lack: `localhost` on both 127.0.0.1 and
 * ::1, and the sandbox's own hostname on the loopback.
 */
export function sandboxHosts(hostText: string, hostname: string): string {
  const names = (addr: string) =>
    hostText
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim().split(/\s+/))
      .filter((f) => f[0] === addr)
      .flatMap((f) => f.slice(1))
  const add: string[] = []
  if (!names('127.0.0.1').includes('localhost')) add.push('127.0.0.1\tlocalhost')
  if (!names('::1').includes('localhost')) add.push('::1\tlocalhost ip6-localhost ip6-loopback')
  add.push(`127.0.0.1\t${hostname}`, `::1\t${hostname}`)
  const base = hostText.length === 0 || hostText.endsWith('\n') ? hostText : `${hostText}\n`
  return `${base}# added by ns-isolated\n${add.join('\n')}\n`
}

/** The sandbox's resolver (launcher.c, op Q): answers NXDOMAIN, so unknown names fail fast with ENOTFOUND. */
export const SANDBOX_RESOLV_CONF =
  '# ns-isolated: names not in /etc/hosts do not exist here\nnameserver 127.0.0.11\noptions timeout:1 attempts:1\n'

export interface FsPlan {
  /** The op list for the launcher (NS_ISOLATED_PLAN). */
  text: string
  /** Paths the setup itself writes in the overlay (not the command's writes). */
  created: string[]
}

const SPECIAL = /[\\\t\n]/

function esc(s: string): string {
  // Most fields have nothing to escape: no new strings for them (a runner prepares a sandbox per file).
  if (!SPECIAL.test(s)) return s
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n')
}

/** Which of the kernel's /proc entries exist: fixed for the kernel's life, so looked up once per host view. */
const procEntries = new WeakMap<HostView, Map<string, { file: boolean; any: boolean }>>()
function procEntry(host: HostView, name: string): { file: boolean; any: boolean } {
  let known = procEntries.get(host)
  if (known === undefined) {
    known = new Map()
    procEntries.set(host, known)
  }
  let entry = known.get(name)
  if (entry === undefined) {
    const st = host.stat(`/proc/${name}`)
    entry = { file: st?.isFile() === true, any: st !== undefined }
    known.set(name, entry)
  }
  return entry
}

/** The last mount table parsed, and its text: a runner's sandboxes mostly see the same one. */
let lastMounts: { text: string; entries: MountEntry[] } | undefined
function mountsIn(text: string): MountEntry[] {
  if (lastMounts?.text !== text) lastMounts = { text, entries: parseMountinfo(text) }
  return lastMounts.entries
}

export function buildPlan(input: FsPlanInput, host: HostView = realHost): FsPlan {
  const ops: string[] = []
  const created: string[] = []
  const op = (...fields: (string | number)[]) => {
    let line = esc(String(fields[0]))
    for (let i = 1; i < fields.length; i++) line += `\t${esc(String(fields[i]))}`
    ops.push(line)
  }
  const rootless = input.strategy === 'rootless'
  /** The host path as the launcher reaches it once /tmp is covered by the staging tmpfs. */
  const src = (p: string) => (isUnder(p, '/tmp') ? `@tmp${p.slice(4)}` : p)
  /** A bind of a host path ('B'/'b': in a reuse reset, from the host's tree PID 1 holds). */
  const bind = (path: string, target: string, flags = MS_BIND, must = true) =>
    op(must ? 'B' : 'b', src(path), target, flags)
  /**
   * Rootless, running as the caller: a directory the sandbox makes (a
   * skeleton, an overlay's root) is the caller's own, so it must carry the
   * permissions the caller has on the host's: the host's "other" bits as its
   * owner bits where the host's directory is someone else's.
   */
  const asCaller = rootless && input.lockdown?.user !== undefined && input.lockdown.user.uid !== 0
  const modeOf = (path: string, fallback: string): string => {
    const st = asCaller ? host.stat(path) : undefined
    if (st?.mode === undefined || st.uid === input.lockdown?.user?.uid) return fallback
    const m = st.mode & 0o7777
    return ((m & 0o7077) | ((m & 0o7) << 6)).toString(8)
  }
  let layers = 0
  const overlay = (path: string) =>
    asCaller
      ? op('O', src(path), R + path, layers++, path, 1, modeOf(path, '755'))
      : op('O', src(path), R + path, layers++, path, rootless ? 1 : 0)
  const copyFile = (path: string, size: number) => {
    if (size > COPY_LIMIT) {
      op('T', R + path)
      bind(path, R + path)
      op('R', R + path)
      op('N', `${path}: read-only (a bind-mounted file over ${COPY_LIMIT} bytes)`)
    } else op('F', src(path), R + path)
    created.push(path)
  }
  /** A directory of the staging tmpfs, bound where the sandbox sees it: its writes count against the one bound. */
  const fromStaging = (name: string, target: string, mode: string) => {
    op('D', `${S}/${name}`, mode)
    op('M', `${S}/${name}`, target, '-', MS_BIND, '-')
  }

  // Data mounts below the root, topmost per path, parents before children.
  const byPath = new Map<string, MountEntry>()
  for (const m of mountsIn(host.mountinfo())) {
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
  // The one tmpfs of everything the sandbox writes, bounded (a full one answers ENOSPC).
  const inodes = Math.max(16_384, Math.floor(input.tmpfsBytes / 4096))
  op('M', 'ns-isolated', S, 'tmpfs', MS_NOSUID | MS_NODEV, `mode=0700,size=${input.tmpfsBytes},nr_inodes=${inodes}`)
  op('D', `${S}/upper`, '700')
  op('D', `${S}/work`, '700')
  op('D', R, modeOf('/', '755'))

  // 1. The root.
  if (!rootless) {
    overlay('/')
  } else {
    // In a user namespace inherited mounts are locked: an overlay cannot take
    // a lower layer with mounts below it ("failed to clone lowerpath"). So the
    // root is a skeleton on the staging tmpfs (bound onto itself: pivot_root
    // needs a mount) and each directory without submounts below it gets its
    // own overlay; directories that hold submounts are recreated as
    // skeletons too, down to the submounts.
    op('M', R, R, '-', MS_BIND, '-')
    const lay = (dir: string) => {
      for (const e of host.readdir(dir)) {
        const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`
        if (e.isSymbolicLink()) {
          op('L', host.readlink(path), R + path)
        } else if (e.isDirectory()) {
          op('D', R + path, FRESH.includes(path) ? '755' : modeOf(path, '755'))
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

  // 3. /proc of the new PID namespace; the files that show the host's tasks,
  //    keys or memory masked; as real root, the kernel's knobs read-only.
  op('D', `${R}/proc`, '555')
  op('M', 'proc', `${R}/proc`, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, '-')
  for (const p of PROC_MASKED) if (procEntry(host, p).file) bind('/dev/null', `${R}/proc/${p}`)
  if (!rootless) {
    for (const p of PROC_READ_ONLY) {
      if (!procEntry(host, p).any) continue
      op('M', `${R}/proc/${p}`, `${R}/proc/${p}`, '-', MS_BIND, '-')
      op('R', `${R}/proc/${p}`)
    }
    // The network's sysctls belong to our own namespace: leave them writable.
    if (input.network !== 'host') {
      op('M', `${R}/proc/sys/net`, `${R}/proc/sys/net`, '-', MS_BIND, '-')
      op('M', '-', `${R}/proc/sys/net`, '-', MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, '-')
    }
  }

  // 4. /sys: a fresh sysfs lists only our own network devices; the host's
  //    with the host's network. Read-only either way, cgroupfs included.
  op('D', `${R}/sys`, '555')
  if (input.network === 'host') {
    bind('/sys', `${R}/sys`, MS_BIND | MS_REC)
    op('R', `${R}/sys`)
  } else {
    op('M', 'sysfs', `${R}/sys`, 'sysfs', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, '-')
    if (input.cgroupfs === 'host') {
      bind('/sys/fs/cgroup', `${R}/sys/fs/cgroup`, MS_BIND | MS_REC)
      op('R', `${R}/sys/fs/cgroup`)
    }
  }
  if (input.cgroupfs === 'own') {
    // Rooted at the sandbox's cgroup (the launcher made the namespace):
    // nsdelegate refuses writes to its own caps from inside.
    op('M', 'cgroup2', `${R}/sys/fs/cgroup`, 'cgroup2', MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME, '-')
  }

  // 5. /dev: the harmless devices, a private devpts, shm and mqueue.
  const dev = `${R}/dev`
  op('D', dev, '755')
  fromStaging('dev', dev, '755')
  for (const d of DEVICES) {
    op('T', `${dev}/${d}`)
    bind(`/dev/${d}`, `${dev}/${d}`, MS_BIND, false)
  }
  op('D', `${dev}/pts`, '755')
  op('m', 'devpts', `${dev}/pts`, 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=620')
  op('L', 'pts/ptmx', `${dev}/ptmx`)
  op('D', `${dev}/shm`, '1777')
  fromStaging('shm', `${dev}/shm`, '1777')
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
  // For nested sandboxes (built in a user namespace): the kernel lets a user
  // namespace mount a proc only where one is already fully visible, and ours
  // has masks over it. So one unmasked proc, under a cover nothing inside can
  // lift: it counts for the kernel's check, and no path reaches it. A bind of
  // the sandbox's own /proc without what is mounted on it (not MS_REC) is
  // such a proc, and costs no second proc instance.
  if (input.lockdown) {
    const nest = `${dev}/.ns-isolated-nest`
    op('D', `${nest}/proc`, '555')
    op('M', `${R}/proc`, `${nest}/proc`, '-', MS_BIND, '-')
    op('M', 'ns-isolated-cover', nest, 'tmpfs', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=000,size=4k')
  }

  // 6. A fresh /tmp; the working directory and the paths to keep, if they were
  //    under the host's /tmp, come in copy-on-write.
  op('D', `${R}/tmp`, '1777')
  fromStaging('tmp', `${R}/tmp`, '1777')
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
  //     in the sandbox would copy the builtins into private memory instead.
  //     The mount point is created only where it is missing (a rootless
  //     skeleton directory): the launcher's 'T' leaves an existing file alone,
  //     so nothing is copied up.
  for (const b of binaries) {
    op('T', R + b)
    bind(b, R + b)
    op('R', R + b)
  }

  //     And the directories bound read-only: the node_modules trees
  //     (host/node-modules.ts says why). Both after the overlays and the kept
  //     paths they sit in, before the writable paths that may sit in them;
  //     one under /tmp only where a kept path brought it in, none inside a
  //     writable path (bound read-write anyway).
  for (const d of readOnly) {
    bind(d, R + d, MS_BIND | MS_REC)
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
    bind(w, R + w, MS_BIND | MS_REC)
  }

  // 7b. With a network of its own: /etc/hosts and a resolver of its own,
  //     bound over the host's files as Docker does (a test may still write them).
  if (input.network === 'loopback') {
    const etc = (name: string, text: string) => {
      op('W', `${S}/${name}`, text)
      op('T', `${R}/etc/${name}`)
      op('M', `${S}/${name}`, `${R}/etc/${name}`, '-', MS_BIND, '-')
      created.push(`/etc/${name}`)
    }
    etc('hosts', sandboxHosts(host.readText('/etc/hosts'), input.hostname))
    etc('resolv.conf', SANDBOX_RESOLV_CONF)
  }

  // 8. Hostname, network, and into the new root.
  op('H', input.hostname)
  if (input.network === 'loopback') {
    op('U')
    op('Q')
  }
  op('P', R, input.cwd)

  // 9. What the command may do (launcher.c, "what the command may do").
  const lock = input.lockdown
  if (lock) {
    if (lock.user) op('I', lock.user.uid, lock.user.gid)
    op('C', lock.capabilities.toString(16))
    op('S', lock.allowMounts ? 'nm' : 'n', lock.refusedNamespaces.toString(16))
  }
  return { text: `${ops.join('\n')}\n`, created: [...new Set(created)] }
}
