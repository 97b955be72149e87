/**
 * The public shapes of `isolate()` and `createIsolatePool()`. Host side.
 */
import type { CgroupUsage, EnforcedCaps } from '../cgroup/types.ts'
import type { LeakedProcess, SandboxResult, Strategy, WrittenPath } from '../host/prepare.ts'
import type { SandboxOptions } from '../options.ts'
import type { CapHit } from '../report/schema.ts'

/** Where the output of the isolated function goes. */
export type IsolateStdio = 'inherit' | 'pipe' | 'ignore'

/**
 * A function living in a module, for code that needs its own top-level
 * imports: `{ module: './work.js', export: 'run' }`. The module is imported
 * inside the sandbox; `module` is resolved like an `import()` written in the
 * caller's file (or in `from`).
 */
export interface IsolateModuleTarget {
  module: string
  /** The export to call. Default: `'default'`. */
  export?: string
}

/** Options of one call, with or without a pool. */
export interface IsolateCallOptions<A = unknown> {
  /** The function's only argument. Crosses by structured clone. Default: `undefined`. */
  args?: A
  /** Kill the whole sandbox after this many ms; rejects with `ENS_TIMEOUT`. Default: none. */
  timeout?: number
  /** Aborting kills the whole sandbox; rejects with `ENS_ABORTED`. */
  signal?: AbortSignal
  /**
   * The function's stdout/stderr: `'inherit'` (default) writes them to this
   * process's; `'pipe'` returns them as `stdout`/`stderr` strings in the
   * result; `'ignore'` drops them. stdin is always empty.
   */
  stdio?: IsolateStdio
  /**
   * The file `import()` calls in the function (and a relative `module`) are
   * resolved from: a path or a `file:` URL, e.g. `import.meta.url`. Default:
   * the file that called `isolate`, read from the call stack.
   */
  from?: string | URL
}

/** Options of the processes a sandbox runs (fixed when a pool starts its sandboxes). */
export interface IsolateProcessOptions {
  /** Node options of the sandboxed process (e.g. `['--import', 'tsx']`). Default: `[]`. */
  execArgv?: string[]
  /** Environment of the sandboxed process. Default: `process.env`. */
  env?: NodeJS.ProcessEnv
}

/** Options of `isolate()`: sandbox options, process options and call options. */
export interface IsolateOptions<A = unknown>
  extends Omit<SandboxOptions, 'timeout'>,
    IsolateProcessOptions,
    IsolateCallOptions<A> {
  /**
   * Keep fresh sandboxes started ahead, shared by every `isolate` call with
   * the same sandbox options: `true` (one ahead) or `{ size: n }`. Each call
   * still gets a sandbox nobody used. Default: no pool (start one per call).
   */
  pool?: boolean | { size: number }
}

/** Options of `createIsolatePool()`: the sandbox options of every sandbox, and how many to keep ahead. */
export interface IsolatePoolOptions extends Omit<SandboxOptions, 'timeout'>, IsolateProcessOptions {
  /** How many fresh sandboxes to keep started and waiting. Default: 1. */
  size?: number
  /** Default timeout of the pool's calls, in ms. Default: none. */
  timeout?: number
}

/** Which cap a sandbox ran into (the runners' report shape). */
export type IsolateCapHit = CapHit

/**
 * What the sandbox used: the same figures as the runners' usage report.
 * `null` means "this host cannot tell", never zero.
 */
export interface IsolateUsage extends CgroupUsage {
  /** From spawn (or, with a pool, from the call) to the end of the sandbox, ms. */
  wallMs: number
  /** Caps the kernel enforced (false: not asked, or not enforceable here). */
  capsEnforced: EnforcedCaps
  capHit?: IsolateCapHit
  /** Processes still running when the function returned; all were killed. */
  leaked: LeakedProcess[]
  /** False when the sandbox was killed before its PID 1 could look (timeout, abort). */
  leaksKnown: boolean
  /** Paths written outside /tmp and the writable paths (into the overlay: gone now). */
  writes: WrittenPath[]
  writesTruncated: boolean
  hostname: string
  strategy: Strategy
}

/** What `isolate` resolves to. */
export interface IsolateResult<R> {
  /** The function's return value (awaited), by structured clone. */
  value: R
  usage: IsolateUsage
  /** The function's stdout, with `stdio: 'pipe'`. */
  stdout?: string
  /** The function's stderr, with `stdio: 'pipe'`. */
  stderr?: string
  /** The sandbox's own result (exit, leaks, writes, raw figures). */
  sandbox: SandboxResult
}

/** A function that can run isolated: one argument, any cloneable result. */
export type IsolatedFunction<A, R> = (args: A) => R | Promise<R>

/** A pool of fresh sandboxes started ahead of their calls. */
export interface IsolatePool {
  /** Sandboxes kept started. */
  readonly size: number
  /** Like `isolate`, in one of the pool's fresh sandboxes. */
  run<A, R>(
    fn: IsolatedFunction<A, R> | IsolateModuleTarget,
    options?: IsolateCallOptions<A>,
  ): Promise<IsolateResult<Awaited<R>>>
  /** Resolves when every spare has started and waits for its function (e.g. in a `beforeAll`). */
  ready(): Promise<void>
  /** Kills the waiting sandboxes; calls in flight finish. Idempotent. */
  close(): Promise<void>
}
