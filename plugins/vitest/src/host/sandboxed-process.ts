/**
 * One file's sandboxed worker process: Vitest's own forks worker entry
 * (`<distPath>/workers/forks.js`), forked exactly as the stock forks pool
 * forks it (IPC with `serialization: 'advanced'`, piped stdio), but with the
 * ns-isolated launcher as `execPath` (boot.ts), so it starts inside fresh
 * namespaces. It owns what the pool worker (sandboxed-worker.ts) does not:
 *
 * - the launch: the spec (spec.ts), a spare adopted or a new boot, the
 *   setup line awaited, so a host that cannot isolate fails at start, or
 *   falls back (`refused`, `unisolated`);
 * - the outcome: `exit` only once the sandbox's result is in; a worker
 *   killed by a cap (OOM) fails its file naming the cap, not "exited
 *   unexpectedly with signal SIGKILL";
 * - stop(): SIGTERM relayed by the launcher to the worker, the launcher (with
 *   it the sandbox) SIGKILLed if the sandbox has not ended 10 s later, time
 *   for PID 1's leak report (boot.ts, `terminate`);
 * - write errors into a dying worker held for a second, as Vitest's forks
 *   pool holds them.
 */
import type { ChildProcess } from 'node:child_process'
import type { EventEmitter } from 'node:events'
import type { Readable } from 'node:stream'
import { ErrorCodes, type MissingIsolation, NsIsolatedError, refusedNamespaces, type SandboxLaunch } from 'ns-isolated'
import type { PoolOptions, WorkerRequest } from 'vitest/node'
import { DEBUG_ENV } from '../names.ts'
import type { resolveFileOptions } from '../options.ts'
import { type Boot, bootWorker, terminate } from './boot.ts'
import { capHitOf, capMessage } from './caps.ts'
import { failFile } from './fail-file.ts'
import type { PoolContext } from './pool-context.ts'
import type { ResultWithUsage, SandboxRecord } from './run-state.ts'
import { prewarms, workerSpec } from './spec.ts'

/** How long a write error into the worker is held before it counts (Vitest's forks pool: 1 s). */
const PIPE_ERROR_GRACE_MS = 1000

/** How a launch went (see `SandboxedProcess.launch`). */
export type Launched = 'running' | { refused: MissingIsolation } | { unisolated: unknown }

export class SandboxedProcess {
  /** The file's record in the run's state, once launched. */
  record: SandboxRecord | undefined
  private child: ChildProcess | undefined
  private sandboxLaunch: SandboxLaunch | undefined
  private boot: Boot | undefined
  private ended: Promise<void> | undefined
  private stopping = false
  /** A held EPIPE or ERR_IPC_CHANNEL_CLOSED (see `emitError`). */
  private pipeError: NodeJS.Timeout | undefined
  /** The worker died of a cap and its file was marked failed (see fail-file.ts). */
  private failedByCap = false
  private readonly options: PoolOptions
  private readonly ctx: PoolContext
  /** The pool worker's `exit`, `error` and `message` listeners. */
  private readonly events: EventEmitter

  constructor(options: PoolOptions, ctx: PoolContext, events: EventEmitter) {
    this.options = options
    this.ctx = ctx
    this.events = events
  }

  /** The worker process's own events (not `exit`, `error` or `message`, which come through `events`). */
  on(event: string, callback: (...args: unknown[]) => void): void {
    this.current.on(event, callback)
  }

  off(event: string, callback: (...args: unknown[]) => void): void {
    this.child?.off(event, callback)
  }

  send(message: WorkerRequest): void {
    if (this.failedByCap) {
      // The worker is gone and its file was marked failed: answer for it, so Vitest moves on.
      if (message.type === 'stop')
        queueMicrotask(() => this.events.emit('message', { __vitest_worker_response__: true, type: 'stopped' }))
      return
    }
    this.current.send(message)
  }

  /**
   * Boots (or adopts) the file's sandboxed worker and waits for its setup:
   * `running`; `refused` when the host refused namespaces and the fallback
   * is 'subreaper' (nothing is left running: start again without them);
   * `unisolated` when the host cannot isolate and the fallback says to run
   * it stock. `without`: start without namespaces, for this reason.
   * `later`: a later sandbox of a file in `isolation: 'test'` (it neither
   * takes nor boots the run's spares, which are for files).
   */
  async launch(
    file: ReturnType<typeof resolveFileOptions>,
    without: MissingIsolation | undefined,
    later = false,
  ): Promise<Launched> {
    const { project } = this.options
    const root = project.config.root
    const spec = workerSpec(this.options, this.ctx.plugin, this.ctx.state, file, without)
    const { spares } = this.ctx.state
    const prewarm = !later && prewarms(this.ctx.plugin, spec)

    let boot = prewarm ? spares.take(project, spec.key) : undefined
    const adopted = boot !== undefined
    if (!boot) {
      try {
        boot = bootWorker(spec, this.ctx.created)
      } catch (e) {
        if (NsIsolatedError.is(e) && this.ctx.plugin.fallback === 'unisolated') return { unisolated: e }
        throw e
      }
    }
    const { launch, child } = boot
    this.boot = boot
    this.sandboxLaunch = launch
    this.child = child
    const caps = { memory: launch.options.memory, pids: launch.options.pids, cpu: launch.options.cpu }
    this.record = this.ctx.state.add({
      files: [],
      projectName: project.name,
      root,
      leaks: file.leaks,
      caps,
      ...(without ? { missingIsolation: without } : {}),
    })
    const record = this.record

    // The file's wall time starts now, a spare's idle wait is not the file's.
    boot.restartClock()
    child.on('error', this.emitError)
    child.on('message', (m) => this.events.emit('message', m))
    // The result comes once the sandbox's cgroup is gone: none outlives the run.
    this.ended = boot.result.then(
      (r) => this.finish(r),
      (e: unknown) => this.finish(e instanceof Error ? e : new Error(String(e))),
    )
    this.ctx.state.track(this.ended)

    const logger = project.vitest.logger
    if (child.stdout) {
      logger.outputStream.setMaxListeners(1 + logger.outputStream.getMaxListeners())
      child.stdout.pipe(logger.outputStream, { end: false })
    }
    if (child.stderr) {
      logger.errorStream.setMaxListeners(1 + logger.errorStream.getMaxListeners())
      child.stderr.pipe(logger.errorStream, { end: false })
    }
    if (process.env[DEBUG_ENV])
      process.stderr.write(`ns-isolated: worker ${child.pid} ${adopted ? 'adopted (spare)' : 'booted'}\n`)

    if (!(await boot.setup)) {
      // The launcher or the setup failed before node started: say why.
      await this.ended
      const r = record.result
      const error =
        record.error ??
        new Error(
          `ns-isolated: the sandbox ended before its setup finished (launcher exit ${r?.signal ? `signal ${r.signal}` : `code ${r?.code}`}).`,
        )
      const refused = this.ctx.plugin.fallback === 'subreaper' && !without ? refusedNamespaces(error) : undefined
      if (refused || (NsIsolatedError.is(error) && this.ctx.plugin.fallback === 'unisolated')) {
        this.unpipe()
        this.child = undefined
        // This attempt ran no file: its record is not the file's.
        this.ctx.state.remove(record)
        this.record = undefined
        return refused ? { refused } : { unisolated: error }
      }
      throw error
    }
    // The next file of this project will find its worker booted.
    if (prewarm) spares.refill(project, () => bootWorker(spec, this.ctx.created))
    return 'running'
  }

  /** Its wall time counts from now (`isolation: 'test'`: a sandbox started ahead, once its test starts). */
  restartClock(): void {
    this.boot?.restartClock()
  }

  async stop(): Promise<void> {
    const child = this.child
    if (!child) return
    this.stopping = true
    const t0 = performance.now()
    await terminate(child, this.ended ?? Promise.resolve())
    if (process.env[DEBUG_ENV]) {
      const r = this.record?.result
      process.stderr.write(
        `ns-isolated: ${this.record?.files.join(', ')} stopped (worker ${r?.signal ? `signal ${r.signal}` : `code ${r?.code}`}) in ${(performance.now() - t0).toFixed(1)} ms\n`,
      )
    }
    await Promise.all([flushed(child.stdout), flushed(child.stderr)])
    this.unpipe()
    this.child = undefined
  }

  private unpipe(): void {
    const child = this.child
    const logger = this.options.project.vitest.logger
    if (child?.stdout) {
      child.stdout.unpipe(logger.outputStream)
      logger.outputStream.setMaxListeners(logger.outputStream.getMaxListeners() - 1)
    }
    if (child?.stderr) {
      child.stderr.unpipe(logger.errorStream)
      logger.errorStream.setMaxListeners(logger.errorStream.getMaxListeners() - 1)
    }
  }

  /** The sandbox is gone: record its result (or why there is none), then tell Vitest how the worker ended. */
  private async finish(ended: ResultWithUsage | Error): Promise<void> {
    const record = this.record
    if (!record || !this.sandboxLaunch) return
    const result = ended instanceof Error ? undefined : ended
    if (result) record.result = result
    else record.error = ended as Error
    if (result) {
      const hit = capHitOf(result)
      if (hit) {
        record.capHit = hit
        record.error = new NsIsolatedError(ErrorCodes.CAP_EXCEEDED, capMessage(record.files, hit), {
          details: { capHit: hit },
        })
      }
    }
    const child = this.boot?.child
    const code = result?.code ?? child?.exitCode ?? null
    const signal = result?.signal ?? child?.signalCode ?? null
    const unexpected = !this.stopping && this.events.listenerCount('exit') > 0
    if (unexpected && record.capHit && record.error && record.files.length > 0) {
      // The worker died of a cap: fail its file naming the cap, and tell the
      // pool the file is done (Vitest would only say "exited unexpectedly").
      let marked = true
      for (const f of record.files) marked = (await failFile(this.options.project, f, record.error)) && marked
      if (marked) {
        this.failedByCap = true
        this.events.emit('message', { __vitest_worker_response__: true, type: 'testfileFinished' })
        return
      }
    }
    // A setup failure or a cap with no file to mark: the error says why.
    if (unexpected && record.error && this.events.listenerCount('error') > 0) this.events.emit('error', record.error)
    else this.events.emit('exit', code, signal)
  }

  private emitError = (error: NodeJS.ErrnoException): void => {
    // A write into a dying worker fails with EPIPE (or a closed IPC channel)
    // before its exit is known; the exit (or the cap that killed it) is the
    // real story. As Vitest's forks pool does, the error is held, and reported
    // only if the launcher is still running a second later (a broken channel
    // to a worker that does not end) and nobody is stopping it.
    if (error.code === 'EPIPE' || error.code === 'ERR_IPC_CHANNEL_CLOSED') {
      if (this.pipeError) return
      const child = this.child
      this.pipeError = setTimeout(() => {
        this.pipeError = undefined
        const running = child !== undefined && child.exitCode === null && child.signalCode === null
        if (running && child === this.child && !this.stopping && this.events.listenerCount('error') > 0)
          this.events.emit('error', error)
      }, PIPE_ERROR_GRACE_MS)
      this.pipeError.unref()
      return
    }
    this.events.emit('error', error)
  }

  private get current(): ChildProcess {
    if (!this.child) throw new Error('ns-isolated: the sandboxed worker was torn down or never started.')
    return this.child
  }
}

function flushed(stream: Readable | null): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve()
  return new Promise((r) => {
    stream.once('end', r)
    stream.once('close', r)
  })
}
