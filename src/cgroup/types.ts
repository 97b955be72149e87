/**
 * The public shapes of the cgroup module. Host side: everything here runs in
 * the runner, before the launcher starts and after it has exited.
 */

/**
 * How cgroups are mounted on this host.
 * - `'v1'`: a tmpfs at the root with one cgroup v1 hierarchy per controller.
 * - `'hybrid'`: `'v1'` plus a controller-less cgroup2 (usually at `<root>/unified`).
 * - `'v2'`: the root itself is cgroup2 (the unified hierarchy).
 * - `'none'`: no usable cgroup filesystem (not Linux, not mounted).
 */
export type CgroupLayout = 'v1' | 'hybrid' | 'v2' | 'none'

/** Caps of one sandbox. Absent means uncapped. Values come parsed from `options.ts`. */
export interface CgroupLimits {
  /** Memory cap in bytes (swap included where the kernel accounts it). */
  memory?: number
  /** Cap on processes *and threads* of the whole tree (a bare Node has ~7). */
  pids?: number
  /** CPU cap in cores, e.g. `1.5` (CFS quota over a 100 ms period). */
  cpu?: number
}

/**
 * Resource figures of one sandbox, whole process tree. `null` means "this
 * host cannot tell", never zero.
 */
export interface CgroupUsage {
  /** User CPU time of every process that ever ran in the sandbox, ms. Exact on every layout. */
  cpuUserMs: number | null
  /** System CPU time, ms. Exact on every layout. */
  cpuSystemMs: number | null
  /**
   * Peak memory, bytes. From a cgroup: the peak charge of the whole tree,
   * which includes page cache (`memoryPeakIncludesCache`). From rusage: the
   * peak RSS of the single largest process, not the sum.
   */
  memoryPeakBytes: number | null
  /** True when `memoryPeakBytes` counts page cache (every cgroup source). */
  memoryPeakIncludesCache: boolean
  /** Peak number of tasks (processes and threads); null where the kernel has no `pids.peak` (before 6.1). */
  pidsPeak: number | null
  /** OOM kills inside the sandbox (the `oom_kill` counter, never `failcnt`). Always 0 from rusage. */
  oomKills: number
  /** Where the figures came from. */
  source: 'cgroup' | 'rusage'
}

/** Which caps the kernel enforces for a sandbox. */
export interface EnforcedCaps {
  memory: boolean
  pids: boolean
  cpu: boolean
}

/** The cgroup(s) of one sandbox. Obtained from `openSandboxCgroup`. */
export interface SandboxCgroup {
  /** The host's layout, as used for this sandbox. */
  readonly layout: CgroupLayout
  /** cgroup.procs files the launcher writes its own pid into before it unshares (one per v1 hierarchy, one on v2). */
  readonly procsFiles: string[]
  /** Which asked caps are enforced; false for a cap that was not asked. */
  readonly enforced: EnforcedCaps
  /** What could not be done and why (only with `unenforceable: 'warn'`, or figures this host cannot give). */
  readonly warnings: string[]
  /**
   * cgroup v2 with nsdelegate: the sandbox can have a cgroup namespace rooted
   * at its cgroup, where the kernel keeps its caps out of its reach.
   */
  readonly delegable: boolean
  /** Figures now (the sandbox may still run): for per-test deltas. */
  read(): CgroupUsage
  /** Kill every process still in it: cgroup.kill where it exists, else v1 freeze / SIGKILL each / thaw. Resolves once it is empty. */
  killAll(): Promise<void>
  /** Final figures, then kill what is left and remove the cgroup(s). Idempotent: later calls return the same figures. */
  close(): Promise<CgroupUsage>
}

/** Options of `openSandboxCgroup`. */
export interface OpenOptions {
  /** The runner is not root (affects which fix the errors name). */
  rootless: boolean
  /** A cap that cannot be enforced: `'error'` throws, `'warn'` runs uncapped with a warning. */
  unenforceable: 'error' | 'warn'
  /** Where cgroupfs is mounted. Default `'/sys/fs/cgroup'`; tests pass a fake tree. */
  root?: string
  /** Caps set by default rather than asked for: where they cannot be enforced, a warning, never an error. */
  optional?: Array<keyof EnforcedCaps>
}

/** What `ns-isolated doctor` says about cgroups on this host. */
export interface CgroupSupport {
  layout: CgroupLayout
  /** A sandbox cgroup could be created. */
  writable: boolean
  /** Caps this runner can enforce. */
  canEnforce: EnforcedCaps
  /** Why some cap cannot be enforced. */
  reason?: string
  /** What to do about it. */
  fix?: string
}
