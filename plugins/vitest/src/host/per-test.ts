/**
 * `isolation: 'test'`: one file run as N sandboxed workers, one per test,
 * behind the one `PoolWorker` Vitest talks to (sandboxed-worker.ts).
 *
 * Vitest sends the file's `start` and `run` once. Run 0 gets them as they
 * are, plus the index of its test (TEST_INDEX_KEY: the worker's preload
 * skips every other test once the file is collected); its collected tree
 * says how many tests stock would run, N. Run k+1 is started in a fresh
 * sandbox and given the same `start` while run k runs (where `prewarm`
 * allows, else when run k ends); when run k says the file is finished, run
 * k+1 gets the `run`, and run k is stopped as Vitest stops a worker. The
 * runs are sequential: a file's snapshots are written by one run at a time,
 * and the reporters see its tests in order (`concurrent` tests too). Run
 * N-1's `testfileFinished` goes out, and Vitest's `stop` goes to it.
 *
 * The workers' RPC calls go out merged (merge-runs.ts): Vitest sees one
 * file's stream. Each answer goes back to the run that called.
 */
import { EventEmitter } from 'node:events'
import type { PoolOptions, WorkerRequest } from 'vitest/node'
import { TEST_INDEX_KEY } from '../names.ts'
import type { resolveFileOptions } from '../options.ts'
import type { TaskNode } from '../test-order.ts'
import { planRuns, RunMerge, type SnapshotResult, type TaskEvent, type TaskPack } from './merge-runs.ts'
import type { PoolContext } from './pool-context.ts'
import { noteFiles } from './run-state.ts'
import type { SandboxedProcess } from './sandboxed-process.ts'
import { prewarms, workerSpec } from './spec.ts'

type FileOptions = ReturnType<typeof resolveFileOptions>

/** Starts one sandboxed worker process for the file, its exit, errors and messages on `events`; `later`: not run 0 (sandboxed-worker.ts). */
export type LaunchRun = (events: EventEmitter, later: boolean) => Promise<SandboxedProcess | { unisolated: unknown }>

/** A birpc message: a call (`q`, with an id `i` unless it is an event) or an answer (`s`). */
interface RpcMessage {
  t: 'q' | 's'
  m?: string
  a?: unknown[]
  i?: string
}

/** A worker's answer to the pool (`started`, `testfileFinished`, `stopped`). */
interface WorkerResponse {
  __vitest_worker_response__: true
  type: string
  error?: unknown
}

interface Run {
  index: number
  process: SandboxedProcess
  /** Settles with the worker's answer to `start`, or when it ends first. */
  started: Promise<WorkerResponse | undefined>
  /** Settles with the worker's answer to `stop`, or when it ends first. */
  stopped: Promise<WorkerResponse | undefined>
  /** Its test is done and it is being stopped (by us, not Vitest: its end is not Vitest's). */
  retired?: boolean
}

function isResponse(m: unknown): m is WorkerResponse {
  return typeof m === 'object' && m !== null && (m as WorkerResponse).__vitest_worker_response__ === true
}

export class PerTestRuns {
  private readonly runs: Run[] = []
  private merge: RunMerge | undefined
  /** The `run` message went out with a test index (one file): the worker runs one test. */
  private oneTest = false
  private startMessage: WorkerRequest | undefined
  private runMessage: WorkerRequest | undefined
  /** Which run made each pending call: its answer goes back there. */
  private readonly calls = new Map<string, Run>()
  /** The run whose test runs now (its worker is the one Vitest's messages and `stop` go to). */
  private active: Run | undefined
  /** The next run, started and given Vitest's `start` while the active one runs. */
  private next: Promise<Run> | undefined
  /** The first run's error in `testfileFinished`, and a retired run's teardown error. */
  private runError: unknown
  private teardownError: unknown
  private cancelled = false
  private stopping = false
  private readonly retiring = new Set<Promise<void>>()
  /** Marks the file's records (run-state.ts) as one file's. */
  private readonly group = {}
  private readonly options: PoolOptions
  private readonly ctx: PoolContext
  /** The pool worker's `exit`, `error` and `message` listeners. */
  private readonly outer: EventEmitter
  private readonly file: FileOptions
  private readonly launchRun: LaunchRun

  constructor(options: PoolOptions, ctx: PoolContext, outer: EventEmitter, file: FileOptions, launchRun: LaunchRun) {
    this.options = options
    this.ctx = ctx
    this.outer = outer
    this.file = file
    this.launchRun = launchRun
  }

  /** The active run's worker. */
  get current(): SandboxedProcess | undefined {
    return this.active?.process
  }

  /** Starts run 0; `unisolated` when the host cannot isolate and the fallback says to run the file stock. */
  async start(): Promise<'running' | { unisolated: unknown }> {
    const run = await this.newRun(0)
    if (!('index' in run)) return run
    this.active = run
    return 'running'
  }

  send(message: WorkerRequest): void {
    const run = this.active
    if (!run) throw new Error('ns-isolated: the sandboxed worker was torn down or never started.')
    if ((message as { __vitest_worker_request__?: boolean }).__vitest_worker_request__) {
      if (message.type === 'start') this.startMessage = message
      if (message.type === 'stop') this.stopping = true
      if (message.type === 'run' && this.runMessage) {
        throw new Error("ns-isolated (isolation 'test'): a sandboxed worker runs one file; Vitest sent it another.")
      }
      if (message.type === 'run' && message.context.files.length === 1) {
        this.runMessage = message
        this.oneTest = true
        this.toRun(run, message)
        return
      }
      run.process.send(message)
      return
    }
    const rpc = message as unknown as RpcMessage
    if (rpc.t === 'q' && rpc.m === 'onCancel') this.cancelled = true
    // An answer goes back to the run that asked (a retired one may be gone: nothing waits for it then).
    const caller = rpc.t === 's' && rpc.i !== undefined ? this.calls.get(rpc.i) : undefined
    if (caller && rpc.i !== undefined) this.calls.delete(rpc.i)
    try {
      ;(caller ?? run).process.send(message)
    } catch (e) {
      if (!caller || caller === run) throw e
    }
  }

  /** Stops every run still running, the one started ahead too. */
  async stop(): Promise<void> {
    this.stopping = true
    const next = this.next
    this.next = undefined
    await Promise.all([
      ...this.runs.map((r) => r.process.stop()),
      ...this.retiring,
      next?.then(
        (r) => r.process.stop(),
        () => undefined,
      ),
    ])
  }

  private async newRun(index: number): Promise<Run | { unisolated: unknown }> {
    const events = new EventEmitter()
    const launched = await this.launchRun(events, index > 0)
    if ('unisolated' in launched) return launched
    const answer = (type: string) =>
      new Promise<WorkerResponse | undefined>((resolve) => {
        events.on('message', (m) => {
          if (isResponse(m) && m.type === type) resolve(m)
        })
        events.once('exit', () => resolve(undefined))
      })
    const run: Run = { index, process: launched, started: answer('started'), stopped: answer('stopped') }
    events.on('message', (m) => this.fromWorker(run, m))
    // Only the active worker's end or error is Vitest's; a retired one's stop is ours, one started ahead waits.
    events.on('exit', (...args) => {
      if (run === this.active && !run.retired) this.outer.emit('exit', ...args)
    })
    events.on('error', (e) => {
      if (run === this.active && !run.retired) this.outer.emit('error', e)
    })
    this.runs.push(run)
    if (launched.record) launched.record.perTest = { group: this.group, test: this.merge?.plan.tests[index] }
    return run
  }

  /** Starts run k in a fresh sandbox and gives it Vitest's `start`; resolves once it answered. */
  private prepare(k: number): Promise<Run> {
    const prepared = (async () => {
      const run = await this.newRun(k)
      if (!('index' in run)) throw run.unisolated
      if (this.stopping) {
        await run.process.stop()
        throw new Error('ns-isolated: stopped.')
      }
      if (!this.startMessage) throw new Error('ns-isolated: no start message to replay.')
      run.process.send(this.startMessage)
      const started = await run.started
      if (!started)
        throw new Error(`ns-isolated (isolation 'test'): the sandbox of test #${k + 1} ended before it started.`)
      if (started.error) throw started.error
      return run
    })()
    // Awaited when its turn comes; a rejection then is that run's error.
    prepared.catch(() => undefined)
    return prepared
  }

  private toRun(run: Run, message: WorkerRequest): void {
    if (run.process.record) noteFiles(run.process.record, message)
    run.process.send({ ...message, [TEST_INDEX_KEY]: run.index } as unknown as WorkerRequest)
  }

  private fromWorker(run: Run, m: unknown): void {
    if (isResponse(m)) {
      if (m.type === 'testfileFinished') this.finished(run, m)
      // Run 0 answers Vitest's `start`; the last run Vitest's `stop` (a retired run's answers are awaited in advance()).
      else if (m.type === 'started' && run.index === 0) this.outer.emit('message', m)
      else if (m.type === 'stopped' && run === this.active && this.stopping) {
        this.outer.emit('message', m.error || !this.teardownError ? m : { ...m, error: this.teardownError })
      }
      return
    }
    const rpc = m as RpcMessage
    if (rpc.t !== 'q') {
      this.outer.emit('message', m)
      return
    }
    const out = this.oneTest ? this.merged(run, rpc) : rpc
    if (out === undefined) {
      // Not Vitest's: answered here, so the worker moves on.
      if (rpc.i !== undefined) run.process.send({ t: 's', i: rpc.i } as unknown as WorkerRequest)
      return
    }
    if (rpc.i !== undefined) this.calls.set(rpc.i, run)
    this.outer.emit('message', out)
  }

  /** What of run k's call goes to Vitest (merge-runs.ts); undefined: nothing. */
  private merged(run: Run, rpc: RpcMessage): RpcMessage | undefined {
    const k = run.index
    const args = rpc.a ?? []
    if (rpc.m === 'onCollected') {
      const files = args[0] as TaskNode[]
      const file = files[0]
      if (k === 0) {
        if (file) this.planned(run, planRuns(file))
        return rpc
      }
      if (file) this.merge?.checkTree(k, file)
      return undefined
    }
    const merge = this.merge
    if (!merge || merge.runs === 1) return rpc
    switch (rpc.m) {
      case 'onQueued':
        return k === 0 ? rpc : undefined
      case 'onTaskUpdate': {
        const update = merge.taskUpdate(k, args[0] as TaskPack[], args[1] as TaskEvent[])
        return update ? { ...rpc, a: update } : undefined
      }
      case 'onAfterSuiteRun': {
        // Vitest keeps one coverage file per set of test files, the last one sent: each run's its own.
        if (k === 0) return rpc
        const meta = args[0] as { testFiles: string[] }
        return { ...rpc, a: [{ ...meta, testFiles: [...meta.testFiles, `ns-isolated: test #${k + 1}`] }] }
      }
      case 'snapshotSaved': {
        const result = merge.snapshotSaved(k, args[0] as SnapshotResult)
        return result ? { ...rpc, a: [result] } : undefined
      }
      default:
        return rpc
    }
  }

  private planned(run: Run, plan: ReturnType<typeof planRuns>): void {
    this.merge = new RunMerge(plan)
    if (run.process.record?.perTest) run.process.record.perTest.test = plan.tests[0]
    this.startAhead(1)
  }

  private finished(run: Run, m: WorkerResponse): void {
    if (m.error !== undefined && this.runError === undefined) this.runError = m.error
    const next = run.index + 1
    const runs = this.merge?.runs ?? 1
    if (!this.oneTest || next >= runs || this.cancelled || this.stopping) {
      if (this.merge && next < runs) this.closeEarly(run)
      this.outer.emit('message', { ...m, error: this.runError })
      return
    }
    this.advance(run, next).catch((e: unknown) => {
      // The next sandbox could not start: the file ends here, with that error.
      if (this.runError === undefined) this.runError = e
      this.closeEarly(run)
      this.outer.emit('message', { ...m, error: this.runError })
    })
  }

  /**
   * The file ends before its last test's run (the run was cancelled, `--bail`, a sandbox could not
   * start): its open suites are finished and its snapshots counted with what the runs so far gave,
   * as calls no answer is awaited for.
   */
  private closeEarly(run: Run): void {
    const merge = this.merge
    if (!merge) return
    const { update, snapshot } = merge.close(run.index)
    if (update[0].length > 0) this.outer.emit('message', { t: 'q', m: 'onTaskUpdate', a: update })
    if (snapshot) this.outer.emit('message', { t: 'q', m: 'snapshotSaved', a: [snapshot] })
  }

  /** Retires run k-1 and runs test k in run k (started ahead, or now). */
  private async advance(previous: Run, k: number): Promise<void> {
    this.retire(previous)
    const next = this.next ?? this.prepare(k)
    this.next = undefined
    const run = await next
    this.active = run
    this.startAhead(k + 1)
    if (!this.runMessage) throw new Error('ns-isolated: no run message to replay.')
    // The test's wall time starts now: waiting for its turn was not its own.
    run.process.restartClock()
    this.toRun(run, this.runMessage)
  }

  /** Stops a run as Vitest stops a worker: `stop`, its answer, then the sandbox. */
  private retire(run: Run): void {
    run.retired = true
    const done = (async () => {
      run.process.send({ type: 'stop', __vitest_worker_request__: true } as WorkerRequest)
      const stopped = await run.stopped
      if (stopped?.error && this.teardownError === undefined) this.teardownError = stopped.error
      await run.process.stop()
    })()
    const tracked = done.catch(() => run.process.stop()).finally(() => this.retiring.delete(tracked))
    this.retiring.add(tracked)
  }

  /** Starts run k while the active one runs, where the plugin's `prewarm` would boot a spare. */
  private startAhead(k: number): void {
    if (this.stopping || !this.merge || k >= this.merge.runs) return
    const spec = workerSpec(this.options, this.ctx.plugin, this.ctx.state, this.file, this.ctx.state.refused)
    if (prewarms(this.ctx.plugin, spec)) this.next = this.prepare(k)
  }
}
