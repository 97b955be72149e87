/**
 * Choosing the driver once (v1/hybrid or v2), and turning what it could not
 * do into errors, warnings or a `null` as the caller's policy says.
 */
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { INSIDE_ENV } from '../protocol.ts'
import type { Cap, OpenResult, Problem } from './driver.ts'
import { drainSync, makeDetachedHandle, makeHandle } from './handle.ts'
import { type CgroupIo, realIo } from './io.ts'
import { type CgroupMounts, DEFAULT_ROOT, readCgroupMounts } from './layout.ts'
import { sandboxCgroupName, sweepStaleCgroups } from './sweep.ts'
import type { CgroupLayout, CgroupLimits, OpenOptions, SandboxCgroup } from './types.ts'
import { openV1 } from './v1.ts'
import { openV2, type V2Context } from './v2.ts'

/** Seams for tests: a fake cgroupfs, a mountinfo text, a /proc/self/cgroup text. */
export interface OpenInternals extends V2Context {
  io?: CgroupIo
  mountinfo?: string
}

const mountsCache = new Map<string, CgroupMounts>()

/** Mounts of a root, read once per process for the real root (mounts do not move under a running runner). */
export function mountsOf(root: string, internals: OpenInternals = {}): CgroupMounts {
  if (internals.mountinfo !== undefined || internals.io !== undefined) {
    return readCgroupMounts(root, internals.mountinfo, internals.io)
  }
  let m = mountsCache.get(root)
  if (m === undefined) {
    m = readCgroupMounts(root)
    mountsCache.set(root, m)
  }
  return m
}

export function openDriver(
  mounts: CgroupMounts,
  name: string,
  limits: CgroupLimits,
  internals: OpenInternals = {},
): OpenResult {
  const io = internals.io ?? realIo
  if (mounts.layout === 'none') {
    return {
      driver: undefined,
      problems: [{ cap: null, kind: 'missing', reason: `no cgroup filesystem is mounted at ${mounts.root}` }],
    }
  }
  const result = mounts.layout === 'v2' ? openV2(mounts, name, limits, io, internals) : openV1(mounts, name, limits, io)
  if (mounts.readOnly && result.driver === undefined) {
    // A read-only mount answers EACCES to some calls and EROFS to others; name the real cause.
    result.problems.unshift({ cap: null, kind: 'readonly', reason: `${mounts.root} is mounted read-only` })
  }
  return result
}

/** The fix to name for what went wrong (the caller adds the `unenforceable: 'warn'` way out where it applies). */
export function fixFor(layout: CgroupLayout, problems: Problem[], rootless: boolean): string {
  if (process.platform !== 'linux')
    return 'cgroups exist only on Linux: run the tests in a Linux VM or container, or drop the caps'
  if (problems.some((p) => p.kind === 'readonly')) {
    if (process.env[INSIDE_ENV] !== undefined) {
      return `this runs inside an ns-isolated sandbox, which sees the host's cgroups read-only (cgroup ${layout}; only v2 with nsdelegate gives a sandbox a cgroup namespace to nest in): a nested sandbox runs under the outer sandbox's cgroup and caps, so set the caps on the outer sandbox`
    }
    return `the cgroup filesystem is read-only (a container): in Docker run with --privileged, or with --cgroupns=private and /sys/fs/cgroup mounted read-write; or drop the caps`
  }
  if (layout === 'none') return `mount a cgroup filesystem (mount -t cgroup2 none /sys/fs/cgroup), or drop the caps`
  if (layout !== 'v2' && (rootless || problems.some((p) => p.kind === 'denied'))) {
    return `cgroup v1 cannot be delegated to a user: run as root (sudo), or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and start the runner with systemd-run --user --scope -p Delegate=yes -- <command>`
  }
  if (rootless || problems.some((p) => p.kind === 'denied')) {
    return `start the runner in a delegated cgroup: systemd-run --user --scope -p Delegate=yes -- <command> (the user manager must delegate memory, pids and cpu: Delegate=memory pids cpu in user@.service), or run as root`
  }
  return `run as root in a cgroup of its own: systemd-run --scope -p Delegate=yes -- <command>`
}

const CAPS: Cap[] = ['memory', 'pids', 'cpu']

let swept = false

/** A crashed runner may have left sandbox cgroups behind: the first one a process opens sweeps them first. */
function sweepOnce(root: string): void {
  if (swept) return
  swept = true
  try {
    sweepStaleCgroups(root)
  } catch {
    // what is wrong, if anything, shows in the figures and caps of the sandbox being opened
  }
}

export function openSandboxCgroupWith(
  name: string,
  limits: CgroupLimits,
  options: OpenOptions,
  internals: OpenInternals = {},
): SandboxCgroup | null {
  const root = options.root ?? DEFAULT_ROOT
  if (root === DEFAULT_ROOT && internals.io === undefined && internals.mountinfo === undefined) sweepOnce(root)
  const mounts = mountsOf(root, internals)
  const asked = CAPS.filter((c) => limits[c] !== undefined)
  const { driver, problems } = openDriver(mounts, sandboxCgroupName(name), limits, internals)
  const optional = new Set(options.optional ?? [])
  const unenforced = asked.filter((c) => driver?.enforced[c] !== true && !optional.has(c))
  const reasonOf = (cap: Cap): string =>
    (problems.find((p) => p.cap === cap) ?? problems.find((p) => p.cap === null))?.reason ?? 'not enforced'
  // A default cap the host cannot enforce is said, loudly, but never fails a sandbox.
  const defaultsMissing = asked
    .filter((c) => driver?.enforced[c] !== true && optional.has(c))
    .map(
      (c) =>
        `no ${c} cap (${reasonOf(c)})${c === 'pids' ? ': a fork bomb here could exhaust the host’s process table' : ''}`,
    )
  const delegable = mounts.layout === 'v2' && mounts.nsdelegate

  if (unenforced.length > 0) {
    const fix = fixFor(mounts.layout, problems, options.rootless)
    const why = unenforced.map((c) => `${c}: ${reasonOf(c)}`).join('; ')
    if (options.unenforceable === 'error') {
      if (driver !== undefined) drainSync(driver)
      const readonly = problems.some((p) => p.kind === 'readonly')
      throw new NsIsolatedError(
        readonly ? ErrorCodes.CGROUP_READONLY : ErrorCodes.CGROUP_UNAVAILABLE,
        `ns-isolated: cannot enforce the ${unenforced.join(', ')} cap${unenforced.length > 1 ? 's' : ''} on this host (cgroup layout ${mounts.layout}; ${why}). Fix: ${fix}; or set unenforceable: 'warn' to run uncapped.`,
        {
          syscallCode: readonly ? 'EROFS' : undefined,
          details: { layout: mounts.layout, root, caps: unenforced, problems, rootless: options.rootless },
        },
      )
    }
    const warnings = [
      ...(driver?.warnings ?? []),
      `running without the ${unenforced.join(', ')} cap${unenforced.length > 1 ? 's' : ''} (${why}). To enforce: ${fix}.`,
      ...defaultsMissing,
    ]
    return driver === undefined ? makeDetachedHandle(mounts.layout, warnings) : makeHandle(driver, warnings, delegable)
  }
  if (driver === undefined) {
    return defaultsMissing.length > 0 ? makeDetachedHandle(mounts.layout, defaultsMissing) : null
  }
  const warnings = [...driver.warnings, ...defaultsMissing]
  for (const p of problems) if (p.cap === null) warnings.push(`figures incomplete: ${p.reason}`)
  return makeHandle(driver, warnings, delegable)
}
