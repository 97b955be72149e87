/**
 * The usage report every front door (CLI, Vitest, Jest, `isolate`) emits:
 * its JSON shape, `version: 1`. Additive changes keep the version; a field
 * that changes meaning or goes away bumps it.
 *
 * Exact and approximate figures (see docs/cgroups.md):
 * - per file, from the sandbox's cgroup: CPU user/system are exact for the
 *   whole process tree; peak memory is the exact peak charge of the tree,
 *   which includes page cache (`memoryPeakIncludesCache`); pids peak is exact
 *   (processes + threads); OOM kills are the kernel's `oom_kill` counter.
 * - per file, without a cgroup (`source: 'rusage'`): CPU exact for every
 *   reaped descendant; memory is the peak RSS of the largest single process
 *   (not the sum, no cache); pids peak unknown (null); OOM kills read 0.
 * - per test: CPU is a delta of the file's counters around the test — exact
 *   for the sandbox tree, but it also counts whatever ran concurrently in the
 *   same sandbox (timers and processes of other tests): approximate.
 */
import type { CgroupUsage, EnforcedCaps } from '../cgroup/index.ts'

export const REPORT_VERSION = 1

/** A whole run. */
export interface RunReport {
  version: typeof REPORT_VERSION
  files: FileReport[]
  totals: RunTotals
}

/** Sums over the files of a run. */
export interface RunTotals {
  files: number
  /** Sum of the files' wall times (not the run's wall time when files run in parallel). */
  wallMs: number
  /** Sum over files; null when no file could tell. */
  cpuUserMs: number | null
  cpuSystemMs: number | null
  /** The largest per-file peak (files do not share memory). */
  memoryPeakBytes: number | null
  oomKills: number
  /** Files whose sandbox hit a cap. */
  capHits: number
  /** Processes leaked, all files. */
  leaked: number
}

/** A process a test file (or test) left running; the sandbox killed it. */
export interface LeakReport {
  /** Its pid inside the sandbox. */
  pid: number
  /** Its command line. */
  command: string
  /** The test that was running when it was started, when known. */
  test?: string
}

/** A cap the sandbox ran into. */
export interface CapHit {
  /** `tmpfs`: the sandbox's bounded tmpfs (what it wrote outside its writable paths) filled up. */
  cap: 'memory' | 'pids' | 'cpu' | 'tmpfs'
  /** The cap's value: bytes (memory, tmpfs), tasks, or cores. */
  limit: number
  /** What happened, e.g. `2 OOM kills`, `fork refused 14 times`, `throttled 40% of periods`. */
  detail: string
}

/** What one test file did, all figures for the file's whole sandbox. */
/** One test file's sandbox: the figures (`CgroupUsage`: CPU, peak memory, peak tasks, OOM kills, their source) and what it did. */
export interface FileReport extends CgroupUsage {
  /** Path of the test file, relative to the project root where possible. */
  file: string
  /** Wall time from spawn to the end of the sandbox. Exact. */
  wallMs: number
  /** Caps the kernel enforced (false: not asked, or not enforceable here). */
  capsEnforced: EnforcedCaps
  capHit?: CapHit
  leaked: LeakReport[]
  /** Paths written outside /tmp and the writable paths (they went to the overlay). */
  writes?: { path: string; kind: string }[]
  tests: TestReport[]
}

/** One test inside a file. */
export interface TestReport {
  /** Full name (describe blocks joined with ' > '). */
  name: string
  /** Wall time of the test. Exact. */
  wallMs: number
  /** CPU of the sandbox tree during the test (user + system): a delta, approximate (see the module doc). */
  cpuMs: number | null
  /** Processes started during the test, when the front door tracks it. */
  pidsStarted?: number
  /** Processes this test left running. */
  leaked?: LeakReport[]
}

function sumOrNull(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null)
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0)
}

/** Builds a run report (with its totals) from file reports. */
export function createRunReport(files: FileReport[]): RunReport {
  const peaks = files.map((f) => f.memoryPeakBytes).filter((v): v is number => v !== null)
  return {
    version: REPORT_VERSION,
    files,
    totals: {
      files: files.length,
      wallMs: files.reduce((a, f) => a + f.wallMs, 0),
      cpuUserMs: sumOrNull(files.map((f) => f.cpuUserMs)),
      cpuSystemMs: sumOrNull(files.map((f) => f.cpuSystemMs)),
      memoryPeakBytes: peaks.length === 0 ? null : Math.max(...peaks),
      oomKills: files.reduce((a, f) => a + f.oomKills, 0),
      capHits: files.filter((f) => f.capHit !== undefined).length,
      leaked: files.reduce((a, f) => a + f.leaked.length, 0),
    },
  }
}

/** The usage part of a file report, from a sandbox cgroup's (or rusage's) figures. */
export function usageFields(
  usage: CgroupUsage,
): Pick<
  FileReport,
  'cpuUserMs' | 'cpuSystemMs' | 'memoryPeakBytes' | 'memoryPeakIncludesCache' | 'pidsPeak' | 'oomKills' | 'source'
> {
  return {
    cpuUserMs: usage.cpuUserMs,
    cpuSystemMs: usage.cpuSystemMs,
    memoryPeakBytes: usage.memoryPeakBytes,
    memoryPeakIncludesCache: usage.memoryPeakIncludesCache,
    pidsPeak: usage.pidsPeak,
    oomKills: usage.oomKills,
    source: usage.source,
  }
}
