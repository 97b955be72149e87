/**
 * ns-isolated: run commands, test files and functions in fresh Linux
 * namespaces over a copy-on-write root, with caps and a usage report.
 */

export type { CgroupLayout, CgroupUsage, EnforcedCaps } from './cgroup/index.ts'
export { isAlive } from './cgroup/io.ts'
export { pidNamespaceId } from './cgroup/sweep.ts'
export { type ErrorCode, ErrorCodes, NsIsolatedError } from './errors.ts'
export { type CompileCache, compileCacheFor } from './host/compile-cache.ts'
export { assertNodeSupported, isNodeSupported, MIN_NODE_VERSION } from './host/node-version.ts'
export type {
  LauncherExit,
  LeakedProcess,
  SandboxCaps,
  SandboxLaunch,
  SandboxResult,
  StatusChannel,
  Strategy,
  WrittenPath,
} from './host/prepare.ts'
export { prepareSandbox } from './host/prepare.ts'
export { refusedNamespaces } from './host/refusal.ts'
export { runSandbox, type Sandbox, type SpawnOptions, spawnSandbox } from './host/spawn.ts'
export { type HiddenLauncher, type StartedSandbox, type StartOptions, startSandbox } from './host/start.ts'
export {
  createIsolatePool,
  type IsolateCallOptions,
  type IsolateCapHit,
  type IsolatedFunction,
  type IsolateModuleTarget,
  type IsolateOptions,
  type IsolatePool,
  type IsolatePoolOptions,
  type IsolateProcessOptions,
  type IsolateResult,
  type IsolateStdio,
  type IsolateUsage,
  isolate,
} from './isolate/isolate.ts'
export {
  describeValue,
  type LeakPolicy,
  type NetworkMode,
  parseChoice,
  parseFlag,
  parseTimeout,
  type ResolvedOptions,
  resolveOptions,
  SANDBOX_OPTION_KEYS,
  type SandboxMode,
  type SandboxOptions,
} from './options.ts'
export { INSIDE_ENV, TEST_ENV } from './protocol.ts'
export { type CapFigures, type CapLimits, capHitMessage, capsHit } from './report/caps.ts'
export {
  type Cell,
  type CellStyle,
  DEFAULT_COLUMNS,
  describeMissingIsolation,
  formatBytes,
  formatMs,
  formatTable,
  formatUsageHeadline,
  formatUsageTable,
  type OutputStream,
  outputColour,
  outputColumns,
  type TableOptions,
  toJson,
  type UsageTableOptions,
  wrapText,
} from './report/format.ts'
export { type FileReportInput, fileReportFromResult, LEAKS_UNKNOWN } from './report/from-result.ts'
export { junitProperties } from './report/junit.ts'
export { type MergedReport, type MergeInput, mergeRunReports } from './report/merge.ts'
export {
  type CapHit,
  createRunReport,
  type FileReport,
  type LeakReport,
  type MissingIsolation,
  REPORT_VERSION,
  type RunReport,
  type RunTotals,
  type TestReport,
  type UnsandboxedFile,
  usageFields,
} from './report/schema.ts'
