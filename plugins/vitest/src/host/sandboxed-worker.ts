/**
 * The pool worker of a file that asked for `ns-isolated`: Vitest's
 * `PoolWorker` contract over the file's sandboxed worker process
 * (sandboxed-process.ts), or over Vitest's own `ForksPoolWorker` where the
 * host cannot isolate and `fallback: 'unisolated'` says to run it stock.
 * Its own part: the file's options (its environment: a file in
 * `ns-isolated` runs the plugin's inner `environment`, node by default; any
 * other sandboxed file its own), and `fallback: 'subreaper'`: where the host
 * refuses namespaces, the worker is started again without them (and so are
 * the run's next ones), its record saying what was missing and why.
 */
import { EventEmitter } from 'node:events'
import { NsIsolatedError } from 'ns-isolated'
import { ForksPoolWorker, type PoolOptions, type PoolWorker, type WorkerRequest } from 'vitest/node'
import { ENVIRONMENT_NAME, POOL_NAME, UNISOLATED_ENV } from '../names.ts'
import { resolveFileOptions } from '../options.ts'
import { PerTestRuns } from './per-test.ts'
import type { PoolContext } from './pool-context.ts'
import { noteFiles, type SandboxRecord } from './run-state.ts'
import { SandboxedProcess } from './sandboxed-process.ts'

export type { PoolContext }

export class SandboxedForksWorker implements PoolWorker {
  readonly name = POOL_NAME
  readonly cacheFs = true
  private sandboxed: SandboxedProcess | undefined
  /** `isolation: 'test'`: the file's runs, one sandbox per test (per-test.ts). */
  private perTest: PerTestRuns | undefined
  private stock: ForksPoolWorker | undefined
  private record: SandboxRecord | undefined
  private readonly events = new EventEmitter()
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
    else (this.perTest ? this.perTest.current : this.sandboxed)?.off(event, callback)
  }

  send(message: WorkerRequest): void {
    const record = this.sandboxed?.record ?? this.record
    if (record) noteFiles(record, message)
    if (this.stock) this.stock.send(innerEnvironment(message, this.inner))
    else if (this.perTest) this.perTest.send(innerEnvironment(message, this.inner))
    else this.current.send(innerEnvironment(message, this.inner))
  }

  deserialize(data: unknown): unknown {
    return data
  }

  async start(): Promise<void> {
    if (this.sandboxed || this.stock || this.perTest) return
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
    // With `isolate: false` Vitest hands one worker file after file: a sandbox per file is what holds.
    const reused = (project.config as { isolate?: boolean }).isolate === false
    if (file.isolation === 'test' && reused) {
      this.ctx.state.warnOnce(
        'isolation-test-reused',
        "ns-isolated: isolation: 'test' needs Vitest's `isolate` (the default): with `isolate: false` these files run one sandbox per worker.",
        (m) => project.vitest.logger.warn(m),
      )
    }
    if (file.isolation === 'test' && !reused) {
      const perTest = new PerTestRuns(this.options, this.ctx, this.events, file, (events, later) =>
        this.launch(file, events, later),
      )
      this.perTest = perTest
      const started = await perTest.start()
      if (started !== 'running') {
        this.perTest = undefined
        await this.startUnisolated(started.unisolated)
      }
      return
    }
    const launched = await this.launch(file, this.events, false, (p) => {
      this.sandboxed = p
    })
    if (!(launched instanceof SandboxedProcess)) {
      this.sandboxed = undefined
      await this.startUnisolated(launched.unisolated)
    }
  }

  /**
   * Launches one sandboxed worker process for the file (its exit, errors and messages on `events`);
   * where the host refuses namespaces and the fallback is 'subreaper', again without them.
   * `unisolated` when the host cannot isolate and the fallback says to run the file stock.
   */
  private async launch(
    file: ReturnType<typeof resolveFileOptions>,
    events: EventEmitter,
    later: boolean,
    created?: (p: SandboxedProcess) => void,
  ): Promise<SandboxedProcess | { unisolated: unknown }> {
    const { project } = this.options
    const sandboxed = new SandboxedProcess(this.options, this.ctx, events)
    created?.(sandboxed)
    // Once a file found namespaces refused, the run's next files start without them at once.
    let launched = await sandboxed.launch(file, this.ctx.state.refused, later)
    if (typeof launched === 'object' && 'refused' in launched) {
      const refused = launched.refused
      this.ctx.state.refused ??= refused
      this.ctx.state.warnOnce(
        'subreaper',
        `ns-isolated: this host refuses namespaces (${refused.code}), so files run without them (fallback: 'subreaper'): leaked processes are still reported against their test and killed, figures and caps still measured, but there is no own PID view, network, hostname or copy-on-write root. The report marks each such file "no namespaces (${refused.why})".`,
        (m) => project.vitest.logger.warn(m),
      )
      launched = await sandboxed.launch(file, refused, later)
    }
    if (typeof launched === 'object' && 'unisolated' in launched) return launched
    return sandboxed
  }

  async stop(): Promise<void> {
    if (this.stock) return this.stock.stop()
    if (this.perTest) return this.perTest.stop()
    await this.sandboxed?.stop()
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

  private get current(): SandboxedProcess {
    const current = this.perTest ? this.perTest.current : this.sandboxed
    if (current) return current
    throw new Error('ns-isolated: the sandboxed worker was torn down or never started.')
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
