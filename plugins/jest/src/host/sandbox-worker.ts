/**
 * One Jest worker in one sandbox (host side): a jest-worker pool of one
 * child over jest-runner's own `build/testWorker.js`, so `runTest`,
 * snapshots, coverage, console and events stay stock. The launcher is put in
 * front of node through `forkOptions.execPath`; fork then runs
 * `launcher …args -- node …execArgv processChild.js`, the IPC channel passing
 * through untouched.
 *
 * Why one pool per sandbox: jest-worker hides each ChildProcess and gives
 * every child of a pool the same forkOptions, hence the same status file and
 * hostname. A pool of one per sandbox gives each sandbox its own status file
 * and its own JEST_WORKER_ID at the cost of nothing measurable (a Worker
 * object is cheap; the fork dominates).
 */
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import type * as JestWorker from 'jest-worker'
import type { Worker } from 'jest-worker'
import {
  type HiddenLauncher,
  prepareSandbox,
  type SandboxLaunch,
  type SandboxResult,
  type StartedSandbox,
  startSandbox,
} from 'ns-isolated'
import { requireFromJestRunner } from '../jest-modules'
import { FILE_EVENT, type FileMessage } from '../messages'

const TEST_WORKER = join(dirname(requireFromJestRunner().resolve('jest-runner')), 'testWorker.js')
/** Loaded first in every sandboxed worker: Jest's transform-cache writes get temp names unique to the worker (see there). */
const PRELOAD = join(__dirname, '..', 'sandbox', 'preload.js')

let counter = 0
/**
 * How long a sandbox gets to end on SIGTERM before jest-worker's SIGKILL
 * (500 ms after its own SIGTERM): after the worker exits, PID 1 still reads
 * the names of what was left running until they settle and reports them; a
 * SIGKILL before that kills them unreported (as in Vitest's host/boot.ts).
 */
const STOP_GRACE_MS = 10_000

export interface SandboxWorkerOptions {
  /** Sandbox options (the core validates them again in prepareSandbox). */
  sandbox: Record<string, unknown>
  keep: string[]
  /** JEST_WORKER_ID of this worker (1-based, unique among the workers running at once). */
  workerId: number
  globalConfig: Config.GlobalConfig
  setupArgs: unknown[]
  /** Reused across files: jest-worker may restart its child (crash, idle memory limit) as stock Jest does. */
  reuse: boolean
  statusDir: string
  /** More environment for the worker (the compile cache's). */
  env: Record<string, string>
}

/** What one file run gives back. */
export interface FileRun {
  result?: TestResult
  error?: unknown
  inside?: FileMessage
  /** cgroup figures before and after the file (reuse mode, where the sandbox outlives the file). */
  cgroupBefore?: ReturnType<NonNullable<SandboxLaunch['cgroup']>['read']>
  cgroupAfter?: ReturnType<NonNullable<SandboxLaunch['cgroup']>['read']>
}

export type WorkerRequest = {
  config: Config.ProjectConfig
  context: unknown
  globalConfig: Config.GlobalConfig
  path: string
}
type CustomMessage = [string, unknown]
type PendingRun = Promise<TestResult> & { UNSTABLE_onCustomMessage?: (fn: (m: CustomMessage) => void) => void }
type TestWorkerFarm = Worker & { worker(request: WorkerRequest): PendingRun }
/** jest-worker's pool; `getWorkers()` and `getWorkerSystemId()` are its public WorkerPoolInterface/WorkerInterface. */
type PoolChild = {
  getWorkerSystemId?(): number
  waitForExit?(): Promise<void>
  /** ChildProcessWorker's process, and its (re)start (jest-worker 29 and 30). */
  _child?: { on(event: 'error', listener: (e: Error) => void): unknown }
  initialize?(): void
}
type WithPool = { _workerPool?: { getWorkers?(): PoolChild[] } }

/**
 * The worker's child (the launcher in front of node), read through
 * jest-worker's pool: its pid, and a flag set once it has exited and been
 * reaped (from then on the pid is not ours to signal). Undefined when this
 * jest-worker does not show them: the worker is then ended the slow way, by
 * `end()`.
 */
export function poolChild(worker: Worker): { pid: number; exited: () => boolean; exit: Promise<void> } | undefined {
  try {
    const child = (worker as unknown as WithPool)._workerPool?.getWorkers?.()[0]
    const pid = child?.getWorkerSystemId?.()
    const exit = child?.waitForExit?.()
    if (typeof pid !== 'number' || pid <= 0 || !exit) return undefined
    let exited = false
    void exit.then(() => {
      exited = true
    })
    return { pid, exited: () => exited, exit }
  } catch {
    return undefined
  }
}

function nodeExecArgv(): string[] {
  // As jest-worker does: --inspect/--debug flags would collide between workers.
  return process.execArgv.filter((v) => !/^--(debug|inspect)/.test(v))
}

function colorEnv(): Record<string, string> {
  return process.stdout.isTTY && process.stdout.hasColors?.() ? { FORCE_COLOR: '1' } : {}
}

export class SandboxWorker {
  readonly launch: SandboxLaunch
  readonly workerId: number
  readonly #worker: TestWorkerFarm
  readonly #reuse: boolean
  /** The launcher, for the prompt stop of a fresh sandbox (see `run`). */
  readonly #child: ReturnType<typeof poolChild>
  readonly #sandbox: StartedSandbox<HiddenLauncher>
  #ended: Promise<SandboxResult | Error> | undefined
  #exited!: () => void
  #files = 0

  constructor(o: SandboxWorkerOptions) {
    this.workerId = o.workerId
    // reuse: the launcher keeps what it needs to rebuild the sandbox's filesystem between files (sandbox/reset.ts).
    this.launch = prepareSandbox(
      o.sandbox,
      { statusFile: join(o.statusDir, `${process.pid}-${++counter}.status`) },
      // (Without namespaces there is no root of ours to rebuild.)
      { keep: o.keep, extraLauncherArgs: o.reuse && o.sandbox.namespaces !== false ? ['--reuse'] : [] },
    )
    const limit = o.globalConfig.workerIdleMemoryLimit
    const { Worker } = requireFromJestRunner()('jest-worker') as typeof JestWorker
    // jest-worker hides its child: the sandbox has ended once end() has seen the worker out.
    const exited = new Promise<undefined>((r) => {
      this.#exited = () => r(undefined)
    })
    this.#sandbox = startSandbox(this.launch, () => ({ exited }))
    this.#worker = new Worker(TEST_WORKER, {
      exposedMethods: ['worker'],
      numWorkers: 1,
      // A fresh sandbox serves one file: a crash is that file's failure, not a reason to start another sandbox.
      maxRetries: o.reuse ? 3 : 0,
      idleMemoryLimit: o.reuse && typeof limit === 'number' ? limit : undefined,
      forkOptions: {
        serialization: 'json',
        stdio: 'pipe',
        execPath: this.launch.file,
        execArgv: [...this.launch.args, process.execPath, ...nodeExecArgv(), '--require', PRELOAD],
        env: {
          ...process.env,
          JEST_WORKER_ID: String(o.workerId),
          ...o.env,
          ...colorEnv(),
          ...this.launch.env,
        },
      },
      setupArgs: o.setupArgs,
      // A sandbox has served its files when it is ended (a fresh one its one
      // file; a reused one the run's, or the run was interrupted): it is
      // ended at once (SIGTERM, relayed by the launcher to the worker), as
      // stock Jest ends a worker it restarts after a file
      // (workerIdleMemoryLimit). A graceful end let the idle worker finish
      // V8's incremental marking and Node's exit first, time at the end of
      // every run that stock's restarted workers do not spend. Nothing is
      // lost: the files' results and figures are in by then; the compile
      // cache is flushed after each file (environment.ts); stdout and
      // stderr are pipes, written synchronously; and a test's `process` is
      // Jest's copy (jest-util's createProcessObject, also what
      // `require('process')` gives), whose 'exit' is never emitted, so no
      // at-exit work of the tests runs in a stock worker either.
      workerGracefulExitTimeout: 0,
    }) as TestWorkerFarm
    // A launcher that fails its setup (a host that refuses namespaces) exits before jest-worker's first
    // message reaches it, and jest-worker listens for no 'error': that send's EPIPE would crash Jest. The
    // file fails with the setup error instead (end()), as it does when the launcher fails later. Also on
    // every restart of a reused worker's child.
    for (const child of (this.#worker as unknown as WithPool)._workerPool?.getWorkers?.() ?? []) {
      const ignoreEpipe = () => child._child?.on('error', () => {})
      ignoreEpipe()
      const initialize = child.initialize
      if (initialize)
        child.initialize = function (this: PoolChild) {
          initialize.call(this)
          ignoreEpipe()
        }
    }
    this.#worker.getStdout()?.pipe(process.stdout)
    this.#worker.getStderr()?.pipe(process.stderr)
    this.#reuse = o.reuse
    this.#child = o.reuse ? undefined : poolChild(this.#worker)
  }

  get files(): number {
    return this.#files
  }

  /** Runs one file; Jest's own custom events (test-case-start/result) go to `onEvent`. */
  async run(request: WorkerRequest, onEvent: (event: string, payload: unknown) => void): Promise<FileRun> {
    this.#files++
    const out: FileRun = {}
    // Reuse: the sandbox outlives the file, so its figures are the cgroup's deltas over the file.
    const cg = this.#reuse && this.launch.cgroup?.procsFiles.length ? this.launch.cgroup : undefined
    if (cg) out.cgroupBefore = cg.read()
    const pending = this.#worker.worker(request)
    pending.UNSTABLE_onCustomMessage?.(([event, payload]) => {
      if (event === FILE_EVENT) out.inside = payload as FileMessage
      else onEvent(event, payload)
    })
    try {
      out.result = await pending
    } catch (error) {
      out.error = error
    }
    // Fresh: the sandbox has served its file. SIGTERM now, as stock Jest
    // kills a worker it restarts the moment the result is in: the idle
    // worker otherwise lived on until end() ran, after the next file's
    // sandbox was forked, and spent that time in V8's incremental marking.
    // end() then finds it gone. Not after a failed call: jest-worker fails a
    // call when its child has died, and word of the exit may still be queued
    // behind this continuation.
    if (out.error === undefined && this.#child && !this.#child.exited()) {
      try {
        process.kill(this.#child.pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
    if (cg && out.cgroupBefore) out.cgroupAfter = cg.read()
    return out
  }

  /**
   * Ends the worker and its sandbox; resolves with the sandbox's result (or
   * the error that explains why the sandbox could not be set up), once its
   * cgroup is gone. Idempotent.
   */
  end(): Promise<SandboxResult | Error> {
    this.#ended ??= (async () => {
      try {
        // SIGTERM (relayed by the launcher to the worker), and the launcher's
        // exit awaited, up to STOP_GRACE_MS, before jest-worker's end: its
        // SIGKILL would kill PID 1 while it reports leaks.
        const child = this.#child ?? poolChild(this.#worker)
        await null // a child that has already exited is flagged a microtask after poolChild
        if (child && !child.exited()) {
          try {
            process.kill(child.pid, 'SIGTERM')
          } catch {
            // already gone
          }
          let timer: NodeJS.Timeout | undefined
          await Promise.race([child.exit, new Promise((r) => (timer = setTimeout(r, STOP_GRACE_MS)))])
          clearTimeout(timer)
        }
        // Then jest-worker's end (workerGracefulExitTimeout 0, see the constructor): SIGTERM, SIGKILL 500 ms later.
        await this.#worker.end()
      } catch {
        // already ended
      }
      this.#exited()
      const statusFile = this.launch.channel.statusFile as string
      try {
        return await this.#sandbox.result
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e))
      } finally {
        rmSync(statusFile, { force: true })
      }
    })()
    return this.#ended
  }
}
