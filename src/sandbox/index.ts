/**
 * `ns-isolated/sandbox`: for code that runs inside a sandbox (the runners'
 * per-test trackers, a test of your own). It loads nothing of the host-side
 * core: node:fs and these few modules.
 */
export { INSIDE_ENV, STAGING_INSIDE, TEST_ENV } from '../protocol.ts'
export { type CapCounters, type CapLimits, capHitMessage, testCapsHit } from '../report/caps.ts'
export type { CapHit } from '../report/schema.ts'
export { formatBytes, formatMs } from '../report/units.ts'
export { type CgroupCounters, cgroupCounters } from './cgroup.ts'
export { LeakAttribution, type SeenProcess } from './leaks.ts'
export { diffSamples, insideSandbox, type SandboxDelta, type SandboxSample, sampleSandbox } from './probe.ts'
export {
  commandOf,
  launcherPid,
  namespaceLastPid,
  type ProcEntry,
  peakRss,
  readStat,
  resetPeakRss,
  sandboxCpuMs,
  sandboxProcesses,
  taskCount,
  testMarkerOf,
} from './proc.ts'
