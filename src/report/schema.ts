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
 * - per test with a sandbox of its own (the runners' `isolation: 'test'`):
 *   CPU, peak memory, peak pids and OOM kills are its sandbox's, as a file's
 *   are; from a cgroup they are exact (`exact: true`). They include the
 *   file's top-level code and the test's hooks, which ran in that sandbox.
 */
import type { CgroupUsage, EnforcedCaps } from '../cgroup/index.ts'

export const REPORT_VERSION = 1

/** A whole run. */
export interface RunReport {
  version: typeof REPORT_VERSION
  files: FileReport[]
  totals: RunTotals
  /** Files the integration was on for but did not sandbox, each with the reason (only front doors that can tell set it). */
  unsandboxed?: UnsandboxedFile[]
}

/** A test file that ran without a sandbox although the integration was on (never silently: it is listed). */
export interface UnsandboxedFile {
  /** Path of the test file, relative to the project root where possible. */
  file: string
  /** Why, and where to read more, e.g. `environment jsdom: not sandboxed, see docs/vitest.md#any-environment`. */
  reason: string
  /** The runner's project, when the run has several. */
  project?: string
}

/** What a file ran without, and why (the runners' fallback `'subreaper'` on a host that refuses namespaces). */
export interface MissingIsolation {
  /** `namespaces`: no PID, mount, network, UTS or IPC namespace and no overlay; leaks still reported and killed, caps and figures still measured. */
  missing: 'namespaces'
  /** Why, in a word or two: `seccomp`, `AppArmor`, `user namespaces off`, `mount refused`, … */
  why: string
  /** The refusal's error code (`ENS_SECCOMP_DENIED`, …). */
  code: string
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
  /** Files that ran without a sandbox (`RunReport.unsandboxed`); present when the front door lists them. */
  unsandboxed?: number
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
  /**
   * Set when the list of leaks is not known to be complete: PID 1 did not
   * report what was left running (the sandbox was killed first, or PID 1
   * could not list them); `leaked` then holds only what was seen earlier.
   * Says why. Absent: the list is complete.
   */
  leaksUnknown?: string
  /** Paths written outside /tmp and the writable paths (they went to the overlay). */
  writes?: { path: string; kind: string }[]
  /** Set when the file ran without part of the sandbox: what was missing and why. Absent: fully sandboxed. */
  missingIsolation?: MissingIsolation
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
  /** True when the test had a sandbox of its own with a cgroup: `cpuMs` and the figures below are exact (see the module doc). */
  exact?: boolean
  /** Peak memory of the test's own sandbox (set when it had one), as `FileReport.memoryPeakBytes`; without `exact`, a front door's approximation (Jest samples it). */
  memoryPeakBytes?: number | null
  /** Peak tasks of the test's own sandbox (set when it had one); without `exact`, a front door's approximation. */
  pidsPeak?: number | null
  /** OOM kills in the test's own sandbox (set when it had one). */
  oomKills?: number
}

function sumOrNull(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null)
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0)
}

/**
 * Builds a run report (with its totals) from file reports; `unsandboxed`,
 * when given, lists the files the front door ran without a sandbox.
 */
export function createRunReport(files: FileReport[], unsandboxed?: UnsandboxedFile[]): RunReport {
  const peaks = files.map((f) => f.memoryPeakBytes).filter((v): v is number => v !== null)
  const report: RunReport = {
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
  if (unsandboxed) {
    report.unsandboxed = unsandboxed
    report.totals.unsandboxed = unsandboxed.length
  }
  return report
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
