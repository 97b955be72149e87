/**
 * What `ns-isolated doctor` reports about cgroups: found by really creating
 * (and removing) a probe cgroup with every cap, not by reading permissions.
 */
import type { Cap } from './driver.ts'
import { drainSync } from './handle.ts'
import { DEFAULT_ROOT } from './layout.ts'
import { fixFor, mountsOf, type OpenInternals, openDriver } from './open.ts'
import { sandboxCgroupName } from './sweep.ts'
import type { CgroupSupport } from './types.ts'

const PROBE_LIMITS = { memory: 1024 ** 3, pids: 4096, cpu: 1 }

export function describeCgroupSupportWith(
  options: { rootless: boolean; root?: string },
  internals: OpenInternals = {},
): CgroupSupport {
  const mounts = mountsOf(options.root ?? DEFAULT_ROOT, internals)
  const { driver, problems } = openDriver(mounts, sandboxCgroupName('doctor'), PROBE_LIMITS, internals)
  const canEnforce = { memory: false, pids: false, cpu: false, ...driver?.enforced }
  if (driver !== undefined) drainSync(driver)
  const missing = (Object.keys(canEnforce) as Cap[]).filter((c) => !canEnforce[c])
  const support: CgroupSupport = { layout: mounts.layout, writable: driver !== undefined, canEnforce }
  if (missing.length > 0) {
    const reasons = [...new Set(problems.map((p) => p.reason))]
    support.reason = reasons.join('; ') || `cannot enforce ${missing.join(', ')}`
    support.fix = fixFor(mounts.layout, problems, options.rootless)
  }
  return support
}
