/**
 * `runner: 'jest-environment-ns-isolated/runner'` (host side). Files whose
 * environment is ns-isolated run in Jest workers started inside fresh
 * namespaces; every other file goes to the stock jest-runner, unchanged.
 *
 * Jest decides "in band" (one file, --runInBand, maxWorkers 1, small fast
 * suites) in the parent and would then run the file in its own process: for
 * isolated files this runner always forks. One worker at a time only when
 * the user asked for it (--runInBand, --detectOpenHandles, maxWorkers 1):
 * Jest's speed heuristic (≤ 20 files that ran fast before go in band, to save
 * worker start-ups) saves nothing here, since every isolated file is forked
 * anyway, and honouring it halved the parallelism of small suites.
 *
 * Modes (`testEnvironmentOptions.isolation`):
 * - 'fresh' (default): a new sandbox per file. Its result (figures, caps,
 *   leaks) is read when it ends; the worker's slot is freed as soon as the
 *   file's result is in, so tearing the sandbox down overlaps the next file.
 * - 'reuse': one sandbox per worker slot and set of options, reset between
 *   files by the environment (see sandbox/reset.ts for what is and is not
 *   reset); figures are per-file deltas of the shared sandbox's cgroup.
 */
// First: an old Node is refused before the core loads.
import './node-gate'
import { rmSync } from 'node:fs'
import type { Test, TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import type * as JestRunner from 'jest-runner'
import type { TestRunnerOptions, TestWatcher, UnsubscribeFn } from 'jest-runner'
import { compileCacheFor, resolveOptions, type SandboxResult } from 'ns-isolated'
import { RunnerEvents } from './host/events'
import { applyToResult, capMessage, freshReport, reuseReport } from './host/outcome'
import { HostPaths } from './host/paths'
import { type FileRun, SandboxWorker } from './host/sandbox-worker'
import { select } from './host/select'
import { createStatusDir } from './host/status-dir'
import { resolveJestOptions } from './host/validate'
import { requireFromJestRunner } from './jest-modules'
import { JEST_KEYS, type JestOptions, NODE_ENV_KEYS, splitOptions } from './options'

const { default: StockRunner, EmittingTestRunner } = requireFromJestRunner()('jest-runner') as typeof JestRunner

const STOCK_EVENTS = [
  'test-file-start',
  'test-file-success',
  'test-file-failure',
  'test-case-start',
  'test-case-result',
] as const

class CancelRun extends Error {
  override name = 'CancelRun'
}

interface Planned {
  test: Test
  options: JestOptions
  /** All testEnvironmentOptions of the file (project + docblock). */
  all: Record<string, unknown>
  /** Reuse-mode pool key: same project, same options. */
  key: string
}

/** Slots 1…n: a worker's JEST_WORKER_ID, unique among the workers running at once, as in stock Jest. */
class Slots {
  readonly #free: number[]
  readonly #waiting: ((slot: number) => void)[] = []
  constructor(n: number) {
    this.#free = Array.from({ length: n }, (_, i) => i + 1)
  }
  acquire(): Promise<number> {
    const slot = this.#free.shift()
    if (slot !== undefined) return Promise.resolve(slot)
    return new Promise((resolve) => this.#waiting.push(resolve))
  }
  release(slot: number): void {
    const next = this.#waiting.shift()
    if (next) next(slot)
    else {
      this.#free.push(slot)
      this.#free.sort((a, b) => a - b)
    }
  }
}

export default class NsIsolatedRunner extends EmittingTestRunner {
  readonly #events = new RunnerEvents()

  on<Name extends keyof import('@jest/test-result').TestEvents>(
    eventName: Name,
    listener: (eventData: import('@jest/test-result').TestEvents[Name]) => void | Promise<void>,
  ): UnsubscribeFn {
    return this.#events.on(eventName, listener as (d: never) => unknown)
  }

  async runTests(tests: Test[], watcher: TestWatcher, options: TestRunnerOptions): Promise<void> {
    const isolated: Test[] = []
    const stock: Test[] = []
    const docOptions = new Map<Test, Record<string, unknown> | undefined>()
    for (const test of tests) {
      const s = select(test)
      ;(s.isolated ? isolated : stock).push(test)
      docOptions.set(test, s.docOptions)
    }
    if (isolated.length > 0) await this.#runIsolated(isolated, docOptions, watcher, options.serial)
    if (stock.length > 0 && !watcher.isInterrupted()) await this.#runStock(stock, watcher, options)
  }

  async #runStock(tests: Test[], watcher: TestWatcher, options: TestRunnerOptions): Promise<void> {
    const runner = new StockRunner(this._globalConfig, this._context)
    const off = STOCK_EVENTS.map((name) => runner.on(name, (data) => this.#events.emit(name, data)))
    try {
      await runner.runTests(tests, watcher, options)
    } finally {
      for (const f of off) f()
    }
  }

  /** Validates every file's options before any sandbox starts; a mistake fails that file with the precise TypeError. */
  #plan(
    tests: Test[],
    docOptions: Map<Test, Record<string, unknown> | undefined>,
  ): { planned: Planned[]; rejected: [Test, Error][] } {
    const planned: Planned[] = []
    const rejected: [Test, Error][] = []
    for (const test of tests) {
      const all = { ...test.context.config.testEnvironmentOptions, ...docOptions.get(test) }
      try {
        resolveOptions(all as never, [...JEST_KEYS, ...NODE_ENV_KEYS])
        const options = resolveJestOptions(all)
        planned.push({ test, options, all, key: `${test.context.config.id}\0${JSON.stringify(all)}` })
      } catch (e) {
        rejected.push([test, e instanceof Error ? e : new Error(String(e))])
      }
    }
    return { planned, rejected }
  }

  async #runIsolated(
    tests: Test[],
    docOptions: Map<Test, Record<string, unknown> | undefined>,
    watcher: TestWatcher,
    serial: boolean,
  ): Promise<void> {
    const { planned, rejected } = this.#plan(tests, docOptions)
    for (const [test, error] of rejected) {
      await this.#events.emit('test-file-start', [test])
      await this.#events.emit('test-file-failure', [
        test,
        { message: error.message, stack: error.stack, type: error.name },
      ])
    }
    if (planned.length === 0) return

    const statusDir = createStatusDir()
    const paths = new HostPaths()
    const removeStatusDir = () => rmSync(statusDir, { recursive: true, force: true })
    process.once('exit', removeStatusDir)
    const resolvers = new Map<string, { config: Config.ProjectConfig; serializableModuleMap: unknown }>()
    for (const { test } of planned) {
      const c = test.context.config
      if (!resolvers.has(c.id))
        resolvers.set(c.id, { config: c, serializableModuleMap: test.context.moduleMap.toJSON() })
    }
    const setupArgs = [{ serializableResolvers: [...resolvers.values()] }]
    const g = this._globalConfig
    const askedSerial = g.runInBand || g.detectOpenHandles || g.maxWorkers <= 1
    const lanes = serial && askedSerial ? 1 : Math.max(1, g.maxWorkers)
    const slots = new Slots(lanes)
    const live = new Set<SandboxWorker>()
    /** reuse mode: `${slot}\0${key}` → its worker */
    const reused = new Map<string, SandboxWorker>()
    /** Writable/kept paths per pool key (reuse: all files of that key; fresh: per file). */
    const byKey = new Map<string, Planned[]>()
    for (const p of planned) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p])

    const newWorker = async (p: Planned, slot: number, files: string[]): Promise<SandboxWorker> => {
      const config = p.test.context.config
      const { sandbox } = splitOptions(p.all)
      const { writable, keep } = await paths.forFiles(config, files, sandbox.writable)
      const compileCache = p.options.compileCache ? compileCacheFor() : undefined
      const sw = new SandboxWorker({
        sandbox: { ...sandbox, writable: compileCache ? [...writable, compileCache.dir] : writable },
        env: compileCache?.env ?? {},
        keep,
        workerId: slot,
        globalConfig: this._globalConfig,
        setupArgs,
        reuse: p.options.isolation === 'reuse',
        statusDir,
      })
      live.add(sw)
      return sw
    }

    const request = (test: Test) => ({
      config: test.context.config,
      context: {
        ...this._context,
        changedFiles: this._context.changedFiles && [...this._context.changedFiles],
        sourcesRelatedToTestsInChangedFiles: this._context.sourcesRelatedToTestsInChangedFiles && [
          ...this._context.sourcesRelatedToTestsInChangedFiles,
        ],
      },
      globalConfig: this._globalConfig,
      path: test.path,
    })
    const onEvent = (event: string, payload: unknown) => {
      void this.#events.emit(event, payload)
    }

    const runOne = async (p: Planned): Promise<void> => {
      const slot = await slots.acquire()
      let released = false
      const release = () => {
        if (!released) slots.release(slot)
        released = true
      }
      try {
        if (watcher.isInterrupted()) throw new CancelRun()
        const reuse = p.options.isolation === 'reuse'
        let sw: SandboxWorker
        const reuseKey = `${slot}\0${p.key}`
        const existing = reuse ? reused.get(reuseKey) : undefined
        if (existing) sw = existing
        else {
          sw = await newWorker(p, slot, reuse ? (byKey.get(p.key) ?? []).map((x) => x.test.path) : [p.test.path])
          if (reuse) reused.set(reuseKey, sw)
        }
        await this.#events.emit('test-file-start', [p.test])
        const started = performance.now()
        const run = await sw.run(request(p.test), onEvent)
        const wallMs = performance.now() - started
        if (reuse && run.error === undefined) {
          release()
          const report = reuseReport(p.test.path, run, sw.launch, p.test.context.config.rootDir, wallMs)
          await this.#success(p, run.result as TestResult, report)
          return
        }
        // Fresh mode, or a reused worker that failed: the sandbox ends here, and its result tells what happened.
        if (reuse) reused.delete(reuseKey)
        release()
        const ended = await sw.end()
        live.delete(sw)
        await this.#finishFresh(p, run, ended)
      } finally {
        release()
      }
    }

    const onInterrupt = new Promise<never>((_, reject) => {
      watcher.on('change', (state) => {
        if (state.interrupted) reject(new CancelRun())
      })
    })
    const all = Promise.all(
      planned.map((p) =>
        runOne(p).catch(async (error: unknown) => {
          if (error instanceof CancelRun) return
          const e = error instanceof Error ? error : new Error(String(error))
          await this.#events.emit('test-file-failure', [p.test, { message: e.message, stack: e.stack, type: e.name }])
        }),
      ),
    )
    const cleanup = async () => {
      await Promise.all([...live].map((sw) => sw.end()))
      paths.dispose()
      removeStatusDir()
      process.removeListener('exit', removeStatusDir)
    }
    await Promise.race([all, onInterrupt]).then(cleanup, cleanup)
  }

  async #success(p: Planned, result: TestResult, report: ReturnType<typeof reuseReport>): Promise<void> {
    applyToResult(result, report, p.options, p.test.context.config, this._globalConfig)
    await this.#events.emit('test-file-success', [p.test, result])
  }

  async #finishFresh(p: Planned, run: FileRun, ended: SandboxResult | Error): Promise<void> {
    const test = p.test
    if (ended instanceof Error) {
      // The sandbox could not be set up (e.g. ENS_USERNS_APPARMOR): that explanation beats jest-worker's "crashed".
      if (run.result && run.error === undefined) {
        await this.#events.emit('test-file-success', [test, run.result])
        return
      }
      const code = (ended as { code?: string }).code
      await this.#events.emit('test-file-failure', [
        test,
        { message: ended.message, stack: ended.stack, type: ended.name, code },
      ])
      return
    }
    const report = freshReport(test.path, run, ended, test.context.config.rootDir)
    if (run.result && run.error === undefined) {
      await this.#success(p, run.result, report)
      return
    }
    const original = run.error instanceof Error ? run.error.message : String(run.error)
    const message = report.capHit ? `${capMessage(report.capHit)}\n${original}` : original
    await this.#events.emit('test-file-failure', [test, { message, stack: message, type: 'Error' }])
  }
}
