/**
 * The sandbox's cgroup, host side: created before the launcher starts (the
 * launcher writes its own pid into `procsFiles` before it unshares), read for
 * figures while it runs, killed and removed after. One interface over cgroup
 * v1, hybrid and v2; the layout is chosen once per host. See docs/cgroups.md.
 */

import { readCgroupMounts } from './layout.ts'
import { openSandboxCgroupWith } from './open.ts'
import { describeCgroupSupportWith } from './support.ts'
import { sweepStaleCgroups as sweep } from './sweep.ts'
import type { CgroupLayout, CgroupLimits, CgroupSupport, CgroupUsage, OpenOptions, SandboxCgroup } from './types.ts'
import { usageFromRusage as fromRusage } from './usage.ts'

export type {
  CgroupLayout,
  CgroupLimits,
  CgroupSupport,
  CgroupUsage,
  EnforcedCaps,
  OpenOptions,
  SandboxCgroup,
} from './types.ts'

/**
 * Creates the cgroup(s) of one sandbox, with the asked caps, under
 * `ns-isolated` in each hierarchy. A cgroup is created whenever the layout
 * allows, caps or not, because the figures come from it.
 *
 * Returns `null` only when cgroups are unusable here (not mounted, not
 * writable) and no cap was asked. When an asked cap cannot be enforced:
 * `unenforceable: 'error'` throws `NsIsolatedError` with code
 * `ENS_CGROUP_UNAVAILABLE` (or `ENS_CGROUP_READONLY` on a read-only
 * cgroupfs) whose message names the fix; `'warn'` returns a handle whose
 * `enforced` says which caps hold and whose `warnings` say why not (with no
 * cgroup at all its `procsFiles` is empty and its figures say
 * `source: 'rusage'`).
 *
 * @param name a label for the cgroup's name (sanitised; the name also carries the runner pid, a counter and a random part)
 */
export function openSandboxCgroup(name: string, limits: CgroupLimits, options: OpenOptions): SandboxCgroup | null {
  return openSandboxCgroupWith(name, limits, options)
}

/**
 * The cgroup layout below `root` (default `/sys/fs/cgroup`), read from
 * `/proc/self/mountinfo` (or the `mountinfo` text given, for tests): cgroup2
 * at `root` is `'v2'`; a tmpfs with cgroup v1 hierarchies is `'v1'`, or
 * `'hybrid'` with a cgroup2 below it too; nothing mounted is `'none'`. Another
 * `root` that is not a mount point is probed from its files
 * (`cgroup.controllers`, `<ctrl>/cgroup.procs`): fake trees in tests.
 * Never decided from kernel versions.
 */
export function detectCgroupLayout(root?: string, mountinfo?: string): CgroupLayout {
  return readCgroupMounts(root, mountinfo).layout
}

/**
 * Removes the sandbox cgroups whose runner (the pid their name starts with)
 * is no longer alive, killing anything still inside first. Returns how many
 * sandboxes were removed. Call it at startup; it is cheap when there is
 * nothing to sweep.
 */
export function sweepStaleCgroups(root?: string): number {
  return sweep(root)
}

/**
 * What this runner can do with cgroups, for `ns-isolated doctor`: found by
 * creating and removing a probe cgroup with every cap. `fix` names what to
 * do when a cap cannot be enforced.
 */
export function describeCgroupSupport(options: { rootless: boolean; root?: string }): CgroupSupport {
  return describeCgroupSupportWith(options)
}

/**
 * Figures when no cgroup exists, from the launcher's getrusage(RUSAGE_CHILDREN)
 * of PID 1 after it reaped everything. CPU is exact; memory is the peak RSS
 * of the largest single process (not the tree's sum, no page cache); pids
 * peak is unknown (null) and OOM kills read 0.
 */
export function usageFromRusage(r: { utimeUs: number; stimeUs: number; maxrssKb: number }): CgroupUsage {
  return fromRusage(r)
}
