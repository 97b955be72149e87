/**
 * Sandbox options: the public shape, and the one place where they are
 * validated. Every front door (CLI, `spawnSandbox`, `isolate`, the Vitest and
 * Jest integrations) passes user input through `resolveOptions`, so a mistake
 * gets the same precise `TypeError` wherever it was made.
 */
import { isAbsolute, resolve } from 'node:path'
import { ErrorCodes, NsIsolatedError } from './errors.ts'
import { CAPABILITIES, type CapabilityName } from './host/privileges.ts'

/** Network of the sandbox. */
export type NetworkMode = 'loopback' | 'none' | 'host'

/** What to do about processes a test leaves running. */
export type LeakPolicy = 'report' | 'fail' | 'ignore'

/** How the sandbox gets its privileges. */
export type SandboxMode = 'auto' | 'root' | 'rootless'

/** What to do when a cap cannot be enforced (rootless without delegation). */
export type UnenforceablePolicy = 'error' | 'warn'

/** How the sandbox sees the host's `node_modules` directories. */
export type NodeModulesMode = 'read-only' | 'overlay'

/** Who the command runs as in a rootless sandbox: you (your uid and gid), or uid 0 of its user namespace. */
export type SandboxUser = 'self' | 'root'

/** Options of one sandbox. All are optional. */
export interface SandboxOptions {
  /**
   * `'loopback'` (default): own network namespace with `lo` up (127.0.0.1 and
   * ::1 work, nothing else is reachable). `'none'`: own namespace, `lo` down.
   * `'host'`: share the host's network.
   */
  network?: NetworkMode
  /** Hostname inside. Default: `ns-isolated-<6 hex>`, new for every sandbox. */
  hostname?: string
  /**
   * Host paths whose writes must reach the host (snapshot dirs, coverage temp
   * dirs, caches). Relative paths are resolved against `cwd`. A missing path
   * is created on the host as a directory.
   */
  writable?: string[]
  /** Working directory inside (the same path as on the host). Default: `process.cwd()`. */
  cwd?: string
  /** `'auto'` (default): root when running as root, else a user namespace. */
  mode?: SandboxMode
  /** Memory cap: bytes, or a string like `'512M'`, `'2G'`. Default: none. */
  memory?: number | string
  /**
   * Cap on processes *and threads* (a bare Node has ~7). Default: the
   * smaller of 4096 and the host's `pid_max` / (2 × CPUs), enforced where a
   * cgroup allows it (else the report's `degraded` says there is none).
   */
  pids?: number
  /** CPU cap in cores, e.g. `1.5`. Default: none. */
  cpu?: number
  /** When a cap cannot be enforced: `'error'` (default) or `'warn'` and run uncapped. */
  unenforceable?: UnenforceablePolicy
  /** Kill the sandbox after this many milliseconds. Default: none. */
  timeout?: number
  /**
   * `'read-only'` (default): the `node_modules` directories the sandbox
   * resolves from (from `cwd` up, and where their links lead) are bound
   * read-only from the host, so loading modules costs what it costs on the
   * host; a write there fails with `EROFS`. `'overlay'`: they are part of the
   * copy-on-write root like everything else (writes vanish), and every first
   * lookup of a path costs more.
   */
  nodeModules?: NodeModulesMode
  /**
   * Size of the sandbox's tmpfs, which holds everything it writes outside its
   * writable paths (the copy-on-write root's changes, /tmp, /dev/shm): bytes,
   * or a string like `'512M'`. A full one answers `ENOSPC`. Default: the
   * memory cap when one is set, else the host's RAM / (2 × CPUs).
   */
  tmpfsSize?: number | string
  /**
   * Rootless only: `'self'` (default) runs the command as your own uid and
   * gid, so permission checks behave as on the host; `'root'` runs it as uid
   * 0 of its user namespace. As root the command stays root.
   */
  user?: SandboxUser
  /**
   * Capabilities to keep on top of the default set (Docker's, without
   * MKNOD), by name without `CAP_`, e.g. `['NET_ADMIN']`. `'SYS_ADMIN'` also
   * lets mount calls through. See docs/security.md for what each opens.
   */
  capabilities?: string[]
  /**
   * Everything: all capabilities, no seccomp filter, no `no_new_privs`. The
   * command can then undo the sandbox (remount, reach the host's files and
   * cgroups). Default: false.
   */
  privileged?: boolean
  /**
   * `false`: no namespaces at all (for hosts that refuse them: Docker's
   * default seccomp profile, AppArmor). The launcher is then the command's
   * subreaper: leaked processes are still reported and killed, caps and
   * figures still come from a cgroup where the host allows one; but there is
   * no overlay, own hostname, network or PID view. Default: true.
   */
  namespaces?: boolean
}

/** Options after validation: every field present and normalised. */
export interface ResolvedOptions {
  network: NetworkMode
  hostname: string
  writable: string[]
  cwd: string
  mode: SandboxMode
  memory: number | undefined
  pids: number | undefined
  cpu: number | undefined
  unenforceable: UnenforceablePolicy
  timeout: number | undefined
  nodeModules: NodeModulesMode
  /** undefined: the default, decided with the host's facts (see `prepareSandbox`). */
  tmpfsSize: number | undefined
  user: SandboxUser
  capabilities: CapabilityName[]
  privileged: boolean
  namespaces: boolean
}

/** Every key of `SandboxOptions`: front doors that take more keys of their own split them with this. */
export const SANDBOX_OPTION_KEYS = [
  'network',
  'hostname',
  'writable',
  'cwd',
  'mode',
  'memory',
  'pids',
  'cpu',
  'unenforceable',
  'timeout',
  'nodeModules',
  'tmpfsSize',
  'user',
  'capabilities',
  'privileged',
  'namespaces',
] as const satisfies readonly (keyof SandboxOptions)[]

const KNOWN = new Set<string>(SANDBOX_OPTION_KEYS)

/**
 * An option that is one of a few strings (`fallback` when undefined); a
 * precise TypeError otherwise. `where` names the place the option came from
 * (e.g. `vitest plugin`), for front doors that read options in several places.
 */
export function parseChoice<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
  where?: string,
): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new TypeError(
      `ns-isolated${where ? ` (${where})` : ''}: option \`${name}\` must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${describeValue(value)}.`,
    )
  }
  return value as T
}

/** An on/off option: true or false, `fallback` when undefined. */
export function parseFlag(name: string, value: unknown, fallback: boolean, where?: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new TypeError(
      `ns-isolated${where ? ` (${where})` : ''}: option \`${name}\` must be true or false; got ${describeValue(value)}.`,
    )
  }
  return value
}

/** A value as an option error message shows it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : String(value)
}

/** A timeout option: a positive number of milliseconds, or undefined. */
export function parseTimeout(value: unknown, name = 'timeout'): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(
      `ns-isolated: option \`${name}\` must be a positive number of milliseconds; got ${describeValue(value)}.`,
    )
  }
  return value
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/** Parses `'512M'`, `'2G'`, `'1.5g'`, `'100KiB'` or a byte count. */
export function parseBytes(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value > 0) return value
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value)
    if (m?.[1] !== undefined) {
      const bytes = Math.floor(Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1))
      if (bytes > 0) return bytes
    }
  }
  throw new TypeError(
    `ns-isolated: option \`${name}\` must be a positive byte count or a size like '512M' or '2G'; got ${describeValue(value)}.`,
  )
}

/** Labels of letters, digits and '-' (RFC 1123), at most 64 characters in all: the kernel's limit. */
const HOSTNAME = /^(?=.{1,64}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i

/** The kernel's own filesystems: a writable bind of them (or of a parent) would hand the sandbox the host. */
const KERNEL_PATHS = ['/proc', '/sys', '/dev']

/** Validates and normalises sandbox options. Throws a precise `TypeError` on the first mistake. */
export function resolveOptions(input: SandboxOptions | undefined, extraKeys: readonly string[] = []): ResolvedOptions {
  const o = (input ?? {}) as Record<string, unknown>
  if (typeof o !== 'object' || Array.isArray(o)) {
    throw new TypeError(`ns-isolated: options must be an object; got ${describeValue(input)}.`)
  }
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key) && !extraKeys.includes(key)) {
      throw new TypeError(
        `ns-isolated: unknown option \`${key}\`. Known options: ${[...KNOWN, ...extraKeys].sort().join(', ')}.`,
      )
    }
  }
  const network = parseChoice('network', o.network, ['loopback', 'none', 'host'] as const, 'loopback')
  const mode = parseChoice('mode', o.mode, ['auto', 'root', 'rootless'] as const, 'auto')
  const unenforceable = parseChoice('unenforceable', o.unenforceable, ['error', 'warn'] as const, 'error')
  const nodeModules = parseChoice('nodeModules', o.nodeModules, ['read-only', 'overlay'] as const, 'read-only')

  let cwd: string
  if (o.cwd === undefined) {
    try {
      cwd = process.cwd()
    } catch (e) {
      throw new NsIsolatedError(
        ErrorCodes.CWD_UNAVAILABLE,
        `ns-isolated: the working directory is gone (${(e as NodeJS.ErrnoException).code}): cd into a directory that exists, or pass the \`cwd\` option.`,
        { cause: e, syscallCode: (e as NodeJS.ErrnoException).code },
      )
    }
  } else {
    if (typeof o.cwd !== 'string' || o.cwd === '') {
      throw new TypeError(`ns-isolated: option \`cwd\` must be a non-empty path; got ${describeValue(o.cwd)}.`)
    }
    cwd = resolve(o.cwd)
  }

  let hostname = `ns-isolated-${Math.floor(Math.random() * 0xffffff)
    .toString(16)
    .padStart(6, '0')}`
  if (o.hostname !== undefined) {
    if (typeof o.hostname !== 'string' || !HOSTNAME.test(o.hostname)) {
      throw new TypeError(
        `ns-isolated: option \`hostname\` must be a valid hostname (letters, digits, '-' and '.', at most 64 characters); got ${describeValue(o.hostname)}.`,
      )
    }
    hostname = o.hostname
  }

  const writable: string[] = []
  if (o.writable !== undefined) {
    if (!Array.isArray(o.writable)) {
      throw new TypeError(
        `ns-isolated: option \`writable\` must be an array of paths; got ${describeValue(o.writable)}.`,
      )
    }
    for (const [i, p] of o.writable.entries()) {
      if (typeof p !== 'string' || p === '') {
        throw new TypeError(`ns-isolated: option \`writable[${i}]\` must be a non-empty path; got ${describeValue(p)}.`)
      }
      const abs = isAbsolute(p) ? resolve(p) : resolve(cwd, p)
      if (abs === '/') {
        throw new TypeError(
          "ns-isolated: option `writable` cannot contain '/': that would pass the whole host through. Name the directories that must persist.",
        )
      }
      const kernel = KERNEL_PATHS.find((k) => abs === k || abs.startsWith(`${k}/`))
      if (kernel !== undefined) {
        throw Object.assign(
          new TypeError(
            `ns-isolated: option \`writable\` cannot contain '${abs}': ${kernel} is the kernel's own filesystem, and a writable bind of the host's would hand the sandbox the host (its processes, devices and settings). The sandbox has a ${kernel} of its own; to keep a file a test writes, write it under the project or a directory you list in \`writable\` instead.`,
          ),
          { code: 'ENS_WRITABLE_KERNEL_FS' },
        )
      }
      if (!writable.includes(abs)) writable.push(abs)
    }
  }

  let pids: number | undefined
  if (o.pids !== undefined) {
    if (typeof o.pids !== 'number' || !Number.isInteger(o.pids) || o.pids < 1) {
      throw new TypeError(`ns-isolated: option \`pids\` must be a positive whole number; got ${describeValue(o.pids)}.`)
    }
    pids = o.pids
  }
  let cpu: number | undefined
  if (o.cpu !== undefined) {
    if (typeof o.cpu !== 'number' || !Number.isFinite(o.cpu) || o.cpu < 0.01) {
      throw new TypeError(
        `ns-isolated: option \`cpu\` must be a number of cores of at least 0.01 (e.g. 0.5, 2); got ${describeValue(o.cpu)}.`,
      )
    }
    cpu = o.cpu
  }
  const timeout = parseTimeout(o.timeout)
  const user = parseChoice('user', o.user, ['self', 'root'] as const, 'self')
  const privileged = parseFlag('privileged', o.privileged, false)
  const capabilities: CapabilityName[] = []
  if (o.capabilities !== undefined) {
    if (!Array.isArray(o.capabilities)) {
      throw new TypeError(
        `ns-isolated: option \`capabilities\` must be an array of capability names like 'NET_ADMIN'; got ${describeValue(o.capabilities)}.`,
      )
    }
    for (const [i, c] of o.capabilities.entries()) {
      const name = typeof c === 'string' ? c.toUpperCase().replace(/^CAP_/, '') : c
      if (typeof name !== 'string' || !Object.hasOwn(CAPABILITIES, name)) {
        throw new TypeError(
          `ns-isolated: option \`capabilities[${i}]\` must be a Linux capability name such as 'NET_ADMIN' or 'SYS_ADMIN' (see capabilities(7)); got ${describeValue(c)}.`,
        )
      }
      if (!capabilities.includes(name as CapabilityName)) capabilities.push(name as CapabilityName)
    }
  }
  return {
    network,
    hostname,
    writable,
    cwd,
    mode,
    memory: parseBytes('memory', o.memory),
    pids,
    cpu,
    unenforceable,
    timeout,
    nodeModules,
    tmpfsSize: parseBytes('tmpfsSize', o.tmpfsSize),
    user,
    capabilities,
    privileged,
    namespaces: parseFlag('namespaces', o.namespaces, true),
  }
}
