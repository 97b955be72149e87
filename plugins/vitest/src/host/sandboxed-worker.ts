/**
 * The pool worker of a file that asked for `ns-isolated`: Vitest's own forks
 * worker entry (`<distPath>/workers/forks.js`), forked exactly as the stock
 * forks pool forks it (IPC with `serialization: 'advanced'`, piped stdio), but
 * with the ns-isolated launcher as `execPath`, so the worker process starts
 * inside fresh namespaces. rpc, console, snapshots and coverage then behave
 * as with `forks`.
 *
 * Differences from `ForksPoolWorker`, and why:
 * - an extra pipe (fd 4) is the launcher's status channel: the setup line
 *   (start() waits for it, so a host that cannot isolate fails at start, or
 *   falls back), and the final line with leaks, writes and figures;
 * - `exit` is emitted only once that final line is read, and a worker killed
 *   by a cap (OOM) is reported as an error naming the cap, not as "exited
 *   unexpectedly with signal SIGKILL";
 * - stop() waits for the whole sandbox: SIGTERM is relayed by the launcher
 *   to the worker, and the launcher (with it the sandbox) is SIGKILLed only
 *   if the sandbox has not ended 500 ms later (boot.ts, `terminate`);
 * - what it is started with (the sandbox options, the paths passed through,
 *   the environment) and whether a spare boots ahead are decided in spec.ts;
 * - node preloads the per-test tracker (worker/preload.ts);
 * - with `prewarm`, the process may have been booted while the previous file
 *   ran (a spare, see spares.ts): its own fresh sandbox all the same;
 * - the file's environment: a file in `ns-isolated` runs the plugin's inner
 *   `environment` (node by default), any other sandboxed file its own;
 * - `fallback: 'subreaper'`: where the host refuses namespaces, the worker
 *   is started again without them (and so are the run's next ones), its
 *   record saying what was missing and why.
 */
import type { ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import type { Readable } from 'node:stream'
import { ErrorCodes, type MissingIsolation, NsIsolatedError, refusedNamespaces, type SandboxLaunch } from 'ns-isolated'
import { ForksPoolWorker, type PoolOptions, type PoolWorker, type WorkerRequest } from 'vitest/node'
import { DEBUG_ENV, ENVIRONMENT_NAME, POOL_NAME, UNISOLATED_ENV } from '../names.ts'
import { type ResolvedPluginOptions, resolveFileOptions } from '../options.ts'
import { type Boot, bootWorker, terminate } from './boot.ts'
import { capHitOf, capMessage } from './caps.ts'
import { failFile } from './fail-file.ts'
import type { CreatedDirs } from './passthrough.ts'
import { noteFiles, type ResultWithUsage, type RunState, type SandboxRecord } from './run-state.ts'
import { prewarms, workerSpec } from './spec.ts'

/** How long a write error into the worker is held before it counts (Vitest's forks pool: 1 s). */
const PIPE_ERROR_GRACE_MS = 1000

/** What every worker of one plugin instance shares. */
export interface PoolContext {
  plugin: ResolvedPluginOptions
  state: RunState
  created: CreatedDirs
}

export class SandboxedForksWorker implements PoolWorker {
  readonly name = POOL_NAME
  readonly cacheFs = true
  private child: ChildProcess | undefined
  private stock: ForksPoolWorker | undefined
  private readonly events = new EventEmitter()
  private launch: SandboxLaunch | undefined
  private record: SandboxRecord | undefined
  private boot: Boot | undefined
  private ended: Promise<void> | undefined
  private stopping = false
  /** A held EPIPE or ERR_IPC_CHANNEL_CLOSED (see `emitError`). */
  private pipeError: NodeJS.Timeout | undefined
  /** The worker died of a cap and its file was marked failed (see fail-file.ts). */
  private failedByCap = false
  /** The environment this worker's files in `ns-isolated` run inside (the plugin's `environment`, per file). */
  private inner = 'node'
  private readonly options: PoolOptions
  private readonly ctx: PoolContext

  constructor(options: PoolOptions, ctx: PoolContext) {
    this.options = options
    this.ctx = ctx
  }

  on(event: string, callback: (...args: unknown[]) => void): void {
    if (this.stock) this.stock.on(event, callback)
    else if (event === 'exit' || event === 'error' || event === 'message') this.events.on(event, callback)
    else this.current.on(event, callback)
  }

  off(event: string, callback: (...args: unknown[]) => void): void {
    if (this.stock) this.stock.off(event, callback)
    else if (event === 'exit' || event === 'error' || event === 'message') this.events.off(event, callback)
    else this.child?.off(event, callback)
  }

  send(message: WorkerRequest): void {
    if (this.record) noteFiles(this.record, message)
    if (this.stock) {
      this.stock.send(innerEnvironment(message, this.inner))
      return
    }
    if (this.failedByCap) {
      // The worker is gone and its file was marked failed: answer for it, so Vitest moves on.
      if (message.type === 'stop')
        queueMicrotask(() => this.events.emit('message', { __vitest_worker_response__: true, type: 'stopped' }))
      return
    }
    this.current.send(innerEnvironment(message, this.inner))
  }

  deserialize(data: unknown): unknown {
    return data
  }

  async start(): Promise<void> {
    if (this.child || this.stock) return
    const { project } = this.options
    const envOptions = this.options.environment.options ?? null
    const file = resolveFileOptions(this.ctx.plugin, [
      {
        where: `environmentOptions['${ENVIRONMENT_NAME}']`,
        value: (project.config.environmentOptions as Record<string, unknown> | undefined)?.[ENVIRONMENT_NAME],
      },
      { where: '@vitest-environment-options', value: envOptions?.[ENVIRONMENT_NAME] },
    ])
    this.inner = file.environment
    // Once a file found namespaces refused, the run's next files start without them at once.
    const refused = await this.launchSandbox(file, this.ctx.state.refused)
    if (!refused) return
    this.ctx.state.refused ??= refused
    this.ctx.state.warnOnce(
      'subreaper',
      `ns-isolated: this host refuses namespaces (${refused.code}), so files run without them (fallback: 'subreaper'): leaked processes are still reported against their test and killed, figures and caps still measured, but there is no own PID view, network, hostname or copy-on-write root. The report marks each such file "no namespaces (${refused.why})".`,
      (m) => project.vitest.logger.warn(m),
    )
    await this.launchSandbox(file, refused)
  }

  /**
   * Boots (or adopts) this file's sandboxed worker and waits for its setup.
   * Resolves with what is missing when the host refused namespaces and the
   * fallback is 'subreaper' (nothing is left running then: start again
   * without them); `without`: start without namespaces for this reason.
   */
  private async launchSandbox(
    file: ReturnType<typeof resolveFileOptions>,
    without: MissingIsolation | undefined,
  ): Promise<MissingIsolation | undefined> {
    const { project } = this.options
    const root = project.config.root
    const spec = workerSpec(this.options, this.ctx.plugin, this.ctx.state, file, without)
    const { spares } = this.ctx.state
    const prewarm = prewarms(this.ctx.plugin, spec)

    let boot = prewarm ? spares.take(project, spec.key) : undefined
    const adopted = boot !== undefined
    if (!boot) {
      try {
        boot = bootWorker(spec, this.ctx.created)
      } catch (e) {
        if (NsIsolatedError.is(e) && this.ctx.plugin.fallback === 'unisolated') {
          await this.startUnisolated(e)
          return undefined
        }
        throw e
      }
    }
    const { launch, child } = boot
    this.boot = boot
    this.launch = launch
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
        if (refused) return refused
        await this.startUnisolated(error)
        return undefined
      }
      throw error
    }
    // The next file of this project will find its worker booted.
    if (prewarm) spares.refill(project, () => bootWorker(spec, this.ctx.created))
    return undefined
  }

  async stop(): Promise<void> {
    if (this.stock) return this.stock.stop()
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
    if (!record || !this.launch) return
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

  private async startUnisolated(cause: unknown): Promise<void> {
    const msg = cause instanceof Error ? cause.message : String(cause)
    this.ctx.state.warnOnce(
      'unisolated',
      `ns-isolated: this host cannot isolate, so files asking for 'ns-isolated' run unisolated (fallback: 'unisolated'): ${msg}`,
      (m) => this.options.project.vitest.logger.warn(m),
    )
    // The environment's setup() refuses to run outside a sandbox unless told this is on purpose.
    this.stock = new ForksPoolWorker({ ...this.options, env: { ...this.options.env, [UNISOLATED_ENV]: '1' } })
    const code = NsIsolatedError.is(cause) ? cause.code : 'an error'
    this.record = this.ctx.state.add({
      files: [],
      projectName: this.options.project.name,
      root: this.options.project.config.root,
      leaks: this.ctx.plugin.leaks,
      caps: {},
      unsandboxed: `host cannot isolate (${code}): fallback 'unisolated', see docs/troubleshooting.md`,
    })
    await this.stock.start()
  }

  private get current(): ChildProcess {
    if (!this.child) throw new Error('ns-isolated: the sandboxed worker was torn down or never started.')
    return this.child
  }
}

/**
 * A file in the `ns-isolated` environment is told to use the inner
 * environment (`node` by default, a built-in or a package Vitest resolves as
 * usual): the isolation already happened when the pool started the worker,
 * and what the `ns-isolated` environment package would add inside is only
 * its refusal to run outside a sandbox. Loading that package costs every
 * file a module runner, an RPC resolve and fetches (about as much as the
 * sandbox itself). The inner environment gets the project's
 * `environmentOptions` (the docblock's options of an `ns-isolated` file are
 * the sandbox's). A run without the plugin still loads the package, which
 * refuses and names the fix. Files in any other environment keep theirs.
 */
function innerEnvironment(message: WorkerRequest, inner: string): WorkerRequest {
  if (message.type !== 'start' && message.type !== 'run' && message.type !== 'collect') return message
  const env = message.context.environment
  if (env?.name !== ENVIRONMENT_NAME) return message
  return {
    ...message,
    context: { ...message.context, environment: { ...env, name: inner, options: null } },
  } as WorkerRequest
}

function flushed(stream: Readable | null): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve()
  return new Promise((r) => {
    stream.once('end', r)
    stream.once('close', r)
  })
}
