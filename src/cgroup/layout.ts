/**
 * Which cgroup filesystems are mounted where: read from /proc/self/mountinfo
 * (the fields statfs would give, plus each v1 hierarchy's controllers), and
 * probed from files when another root is given (a fake tree in tests).
 * Never guessed from kernel versions.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type CgroupIo, realIo } from './io.ts'
import type { CgroupLayout } from './types.ts'

export const DEFAULT_ROOT = '/sys/fs/cgroup'

/** v1 controllers we may use; other super options (`rw`, `name=systemd`, `xattr`, …) are not controllers. */
const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
])

/** The cgroup mounts below one root. */
export interface CgroupMounts {
  layout: CgroupLayout
  root: string
  /** v1 only: controller → mount point of its hierarchy (co-mounted controllers share one). */
  v1: Map<string, string>
  /** The cgroup2 mount point: `root` on v2, usually `<root>/unified` on hybrid. */
  unified: string | undefined
  /** mountinfo's root field of the cgroup2 mount: the cgroup shown as its top (not `/` in some containers). */
  unifiedMountRoot: string
  /** The cgroup filesystem is mounted read-only (Docker without privileges). */
  readOnly: boolean
  /**
   * The cgroup2 mount has `nsdelegate` (systemd sets it): a cgroup namespace
   * is a delegation boundary, so a sandbox in its own cgroup namespace can
   * neither write its own caps nor move out.
   */
  nsdelegate: boolean
}

interface MountLine {
  mountRoot: string
  path: string
  options: string[]
  fstype: string
  superOptions: string[]
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}

/** proc(5): `id parent maj:min root mountpoint options [optional…] - fstype source superoptions`. */
function parseMountinfo(text: string): MountLine[] {
  const out: MountLine[] = []
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const left = line.slice(0, sep).split(' ')
    const right = line.slice(sep + 3).split(' ')
    out.push({
      mountRoot: unescapeOctal(left[3] ?? '/'),
      path: unescapeOctal(left[4] ?? ''),
      options: (left[5] ?? '').split(','),
      fstype: right[0] ?? '',
      superOptions: (right[2] ?? '').split(','),
    })
  }
  return out
}

function fromMountinfo(root: string, lines: MountLine[]): CgroupMounts | undefined {
  // The last mount at a path hides earlier ones.
  const at = new Map<string, MountLine>()
  for (const l of lines) if (l.path === root || l.path.startsWith(`${root}/`)) at.set(l.path, l)
  const top = at.get(root)
  if (top === undefined) return undefined
  if (top.fstype === 'cgroup2') {
    return {
      layout: 'v2',
      root,
      v1: new Map(),
      unified: root,
      unifiedMountRoot: top.mountRoot,
      readOnly: top.options.includes('ro'),
      nsdelegate: top.superOptions.includes('nsdelegate'),
    }
  }
  const v1 = new Map<string, string>()
  let unified: MountLine | undefined
  let readOnly = top.options.includes('ro')
  for (const l of at.values()) {
    if (l.fstype === 'cgroup') {
      for (const c of l.superOptions) if (V1_CONTROLLERS.has(c) && !v1.has(c)) v1.set(c, l.path)
      if (l.options.includes('ro') && l.superOptions.includes('memory')) readOnly = true
    } else if (l.fstype === 'cgroup2' && (unified === undefined || l.path === join(root, 'unified'))) {
      unified = l
    }
  }
  if (v1.size === 0)
    return { layout: 'none', root, v1, unified: undefined, unifiedMountRoot: '/', readOnly, nsdelegate: false }
  return {
    layout: unified ? 'hybrid' : 'v1',
    root,
    v1,
    unified: unified?.path,
    unifiedMountRoot: unified?.mountRoot ?? '/',
    readOnly,
    nsdelegate: unified?.superOptions.includes('nsdelegate') ?? false,
  }
}

/** No cgroup filesystem at `root`. */
function noCgroups(root: string): CgroupMounts {
  return {
    layout: 'none',
    root,
    v1: new Map(),
    unified: undefined,
    unifiedMountRoot: '/',
    readOnly: false,
    nsdelegate: false,
  }
}

/** A root that is not a mount point (a fake tree): look at the files a kernel would show. */
function fromFiles(root: string, io: CgroupIo): CgroupMounts {
  const none = noCgroups(root)
  if (io.exists(join(root, 'cgroup.controllers'))) return { ...none, layout: 'v2', unified: root }
  let dirs: string[]
  try {
    dirs = io.subdirs(root)
  } catch {
    return none
  }
  const v1 = new Map<string, string>()
  let unified: string | undefined
  for (const d of dirs.sort()) {
    const path = join(root, d)
    if (io.exists(join(path, 'cgroup.controllers'))) unified ??= path
    else if (io.exists(join(path, 'cgroup.procs'))) {
      for (const c of d.split(',')) if (V1_CONTROLLERS.has(c) && !v1.has(c)) v1.set(c, path)
    }
  }
  if (v1.size === 0) return none
  return { ...none, layout: unified ? 'hybrid' : 'v1', v1, unified }
}

/**
 * Reads the cgroup mounts below `root`. `mountinfo` defaults to
 * /proc/self/mountinfo. When a root other than /sys/fs/cgroup is not a mount
 * point in it, the layout is probed from the files below it.
 */
export function readCgroupMounts(root: string = DEFAULT_ROOT, mountinfo?: string, io: CgroupIo = realIo): CgroupMounts {
  let text = mountinfo
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8')
    } catch {
      text = ''
    }
  }
  const mounted = fromMountinfo(root, parseMountinfo(text))
  if (mounted !== undefined) return mounted
  // Nothing mounted at the real root means no cgroups; any other root is a tree to probe.
  if (root === DEFAULT_ROOT) return noCgroups(root)
  return fromFiles(root, io)
}

/** The text of /proc/self/cgroup ('' when unreadable, e.g. a fake io). */
export function readSelfCgroup(io: CgroupIo): string {
  try {
    return io.read('/proc/self/cgroup')
  } catch {
    return ''
  }
}

/**
 * Where a hierarchy's `ns-isolated` directory goes: its mount root, or,
 * for a runner that itself runs inside a sandbox (its cgroup is some
 * `…/ns-isolated/<sandbox>`), under its own cgroup. Nested sandboxes then
 * stay under the outer sandbox's caps, are killed with it, and are removed
 * with it. `controller` is a v1 controller, or '' for the unified hierarchy.
 */
export function sandboxBase(mount: string, controller: string, selfCgroup: string): string {
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line)
    if (!m) continue
    const matches = controller === '' ? m[1] === '0' && m[2] === '' : (m[2] ?? '').split(',').includes(controller)
    if (!matches) continue
    const path = m[3] ?? '/'
    return /\/ns-isolated\/[^/]+/.test(path) ? `${mount}${path}` : mount
  }
  return mount
}
