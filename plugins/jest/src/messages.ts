/**
 * What the environment (inside the sandbox) tells the runner (on the host)
 * about one test file. It travels as a jest-worker custom message
 * (`messageParent([FILE_EVENT, payload])`), on the same IPC channel and
 * before the file's result, so the runner has it when the result arrives.
 */

/** The custom message's event name. The runner swallows it; it never reaches Jest. */
export const FILE_EVENT = 'ns-isolated:file'

/**
 * `isolation: 'test'`: which of the file's tests this worker's sandbox runs
 * (its index among the tests stock Jest would run, in tree order), set by the
 * runner on each sandbox it starts for the file.
 */
export const TEST_INDEX_ENV = 'NS_ISOLATED_JEST_TEST'

/** The custom message that carries a per-test run's plan (`PlanMessage`), sent when the tests start. */
export const PLAN_EVENT = 'ns-isolated:plan'

/**
 * `isolation: 'test'`: the file's tests as one sandbox found them when they
 * started (circus's `run_start`, after the file's module scope defined them).
 */
export interface PlanMessage {
  /** Every test, [...describe blocks, title], in tree order. */
  tests: string[][]
  /** Indices into `tests` of the tests stock Jest would run (not skipped, todo, filtered or unfocused). */
  runnable: number[]
  /** The index into `runnable` of the test this sandbox runs; null when there is none to run. */
  target: number | null
}

/**
 * Set by the runner in a worker it started without namespaces (`fallback:
 * 'subreaper'`), to why there are none: the environment then knows it runs
 * under the runner's launcher, and the tracker that /proc is the host's.
 */
export const NO_NAMESPACES_ENV = 'NS_ISOLATED_NO_NAMESPACES'

/** A process the file left running (alive when the file ended); killed by the environment. */
export interface InsideLeak {
  pid: number
  command: string
  /** The test during which it was first seen, as [...describe blocks, test title]; absent: outside any test (hooks, module scope). */
  test?: string[]
}

/** Figures of one test, measured inside the sandbox. */
export interface InsideTest {
  /** [...describe blocks, title]. */
  path: string[]
  /** What the processes it started carry in their environment (`NS_ISOLATED_TEST`): PID 1 names leaks by it. */
  marker: string
  wallMs: number
  /** CPU of every process of the sandbox during the test (delta), ms. */
  cpuMs: number | null
  /** Peak RSS of the worker during the test (plus the RSS of its other processes at the end), bytes. */
  memoryPeakBytes: number | null
  /** Most tasks (processes and threads) seen in the sandbox during the test (sampled). */
  pidsPeak: number | null
  /** Processes first seen during the test. */
  pidsStarted: number
}

/** What a reuse-mode reset did between two files (docs/jest.md, "Modes"). */
export interface ResetReport {
  /** Leaked processes killed (their pids). */
  killed: number[]
  /**
   * The sandbox's filesystem was built again from the host's files: a fresh
   * copy-on-write root (this file's `writes` are undone), /tmp, /dev, /proc.
   */
  rootReset: boolean
  /** The file changed nothing a reset would undo, so there was none. */
  skipped?: true
  /** Why the root was not reset (`rootReset: false`); /tmp and the hostname were then reset one by one. */
  rootResetError?: string
  /** Entries this file left in /tmp (all gone). */
  tmpRemoved: number
  /** The hostname was changed by the file and set back. */
  hostnameRestored: boolean
  /** SysV IPC objects and POSIX message queues removed. */
  ipcRemoved: number
  /**
   * Paths this file wrote outside /tmp and the writable paths (at most 200).
   * Undone when `rootReset`; otherwise later files of this worker see them
   * (never the host).
   */
  writes: string[]
}

export interface FileMessage {
  testPath: string
  /** Hostname of the sandbox (NS_ISOLATED_INSIDE). */
  sandbox: string
  tests: InsideTest[]
  leaked: InsideLeak[]
  /** Wall and CPU of the file inside (environment setup to teardown). */
  wallMs: number
  cpuMs: number | null
  /** Peak RSS of the worker over the file. */
  memoryPeakBytes: number | null
  pidsPeak: number | null
  reset?: ResetReport
}
