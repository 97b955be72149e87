/**
 * `runner: 'jest-environment-ns-isolated/runner'` (host side). Every file it
 * is given runs in a Jest worker started inside fresh namespaces, whatever
 * its test environment: the worker wraps the file's own environment in ours
 * (sandbox/preload.ts). Projects that should run unisolated keep the stock
 * runner (Jest's `projects`); the usage report lists their files.
 *
 * Jest decides "in band" (one file, --runInBand, maxWorkers 1, small fast
 * suites) in the parent and would then run the file in its own process: for
 * isolated files this runner always forks. One worker at a time only when
 * the user asked for it (--runInBand, --detectOpenHandles, maxWorkers 1):
 * Jest's speed heuristic (≤ 20 files that ran fast before go in band, to save
 * worker start-ups) saves nothing here, since every isolated file is forked
 * anyway, and honouring it halved the parallelism of small suites.
 *
 * Modes (`testEnvironmentOptions.isolation`, docs/jest.md "Modes"):
 * - 'reuse' (default): one sandbox per worker slot and set of options (all
 *   projects with the same options share it), reset between files by the
 *   environment (see sandbox/reset.ts for what is and is not reset);
 *   figures are per-file deltas of the shared sandbox's cgroup. As fast as
 *   stock Jest, which also keeps its workers: a worker's start (Node, Jest's
 *   runtime, a transformer's: ts-jest builds a TypeScript program) is paid
 *   once per worker, not per file.
 * - 'fresh': a new sandbox per file. Its result (figures, caps, leaks) is
 *   read when it ends; the worker's slot is freed as soon as the file's
 *   result is in, so tearing the sandbox down overlaps the next file.
 *
 * `fallback: 'subreaper'`: where this host refuses namespaces (a probe
 * before the first file says so, and why), files run without them, under
 * the launcher as their subreaper, and every such file's report says which
 * isolation was missing.
 */
// First: an old Node is refused before the core loads.
import './node-gate'
import { rmSync } from 'node:fs'
import type { Test, TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import type * as JestRunner from 'jest-runner'
import type { TestRunnerOptions, TestWatcher, UnsubscribeFn } from 'jest-runner'
import {
  compileCacheFor,
  describeMissingIsolation,
  type MissingIsolation,
  refusedNamespaces,
  resolveOptions,
  runSandbox,
  type SandboxOptions,
  type SandboxResult,
} from 'ns-isolated'
import { RunnerEvents } from './host/events'
import { applyToResult, capMessage, freshReport, reuseReport } from './host/outcome'
import { HostPaths } from './host/paths'
import { mergeResults, perTestReport, runsNeeded, type TestRun } from './host/per-test'
import { type FileRun, SandboxWorker } from './host/sandbox-worker'
import { select } from './host/select'
import { createStatusDir } from './host/status-dir'
import { resolveJestOptions } from './host/validate'
import { requireFromJestRunner } from './jest-modules'
import { NO_NAMESPACES_ENV, PLAN_EVENT, type PlanMessage, TEST_INDEX_ENV } from './messages'
import { JEST_KEYS, type JestOptions, NODE_ENV_KEYS, splitOptions } from './options'

const { EmittingTestRunner } = requireFromJestRunner()('jest-runner') as typeof JestRunner

class CancelRun extends Error {
  override name = 'CancelRun'
}

interface Planned {
  test: Test
  options: JestOptions
  /** All testEnvironmentOptions of the file (project + docblock). */
  all: Record<string, unknown>
  /** Reuse-mode pool key: the same options (a worker runs files of any project). */
  key: string
  /** The isolation this file runs without (`fallback: 'subreaper'` where the host refuses namespaces), and why. */
  missing?: MissingIsolation
  /** fallback 'error': the probe's answer, awaited before the file's first request (see `probe`). */
  hostError?: Promise<Error | undefined>
}

/** Sandbox options that decide whether the host can set a sandbox up (not caps, paths or names). */
const PROBED_KEYS = ['network', 'mode', 'nodeModules', 'user', 'capabilities', 'privileged'] as const
const probes = new Map<string, Promise<Error | undefined>>()
/** What a probe that has not answered yet is raced against. */
const PENDING = Symbol('pending')

/**
 * Whether this host can set up a sandbox with these options: one sandbox of
 * `/bin/true` (a few ms), once per process and set of options (the host
 * does not change under a watch-mode session). The error that says why not,
 * or undefined. Without it, a launcher that fails its setup would be forked
 * again and again by jest-worker's retries, each file failing with
 * jest-worker's words instead of the host's. With `fallback: 'error'` it
 * runs while the first worker starts (a host that refuses then ends that
 * worker); 'subreaper' waits for it, since it decides how workers start.
 */
function probe(sandbox: Record<string, unknown>): Promise<Error | undefined> {
  const options: Record<string, unknown> = {}
  for (const k of PROBED_KEYS) if (sandbox[k] !== undefined) options[k] = sandbox[k]
  const key = JSON.stringify(options)
  let p = probes.get(key)
  if (!p) {
    p = runSandbox('/bin/true', [], { ...(options as SandboxOptions), stdio: 'ignore' }).then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    )
    probes.set(key, p)
  }
  return p
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
    await this.#runIsolated(tests, watcher, options.serial)
  }

  /**
   * Validates every file's options before any sandbox starts; a mistake
   * fails that file with the precise TypeError. Under Node's environment an
   * unknown key is such a mistake (a typo would become a global); jsdom and
   * custom environments get every key that is not ours. Then whether this
   * host can set the files' sandboxes up (`probe`): where it cannot, each
   * file fails with that error and its fix; or, where it refuses namespaces
   * and the file's `fallback` is 'subreaper', the file runs without them,
   * and says so.
   */
  async #plan(tests: Test[]): Promise<{ planned: Planned[]; rejected: [Test, Error][] }> {
    const planned: Planned[] = []
    const rejected: [Test, Error][] = []
    for (const test of tests) {
      const { docOptions, nodeEnvironment } = select(test)
      const all = { ...test.context.config.testEnvironmentOptions, ...docOptions }
      try {
        const { sandbox, jest } = splitOptions(all)
        if (nodeEnvironment) resolveOptions(all as never, [...JEST_KEYS, ...NODE_ENV_KEYS])
        else resolveOptions(sandbox as never)
        const options = resolveJestOptions(jest)
        const key = JSON.stringify(all)
        if (options.fallback === 'error') {
          // Awaited only before the file's first request: the probe runs while its worker starts.
          planned.push({ test, options, all, key, hostError: probe(sandbox) })
          continue
        }
        // 'subreaper': the answer decides how the worker is started.
        const hostError = await probe(sandbox)
        const missing = hostError ? refusedNamespaces(hostError) : undefined
        if (hostError && !missing) throw hostError
        planned.push({ test, options, all, key, ...(missing ? { missing } : {}) })
      } catch (e) {
        rejected.push([test, e instanceof Error ? e : new Error(String(e))])
      }
    }
    return { planned, rejected }
  }

  async #runIsolated(tests: Test[], watcher: TestWatcher, serial: boolean): Promise<void> {
    const { planned, rejected } = await this.#plan(tests)
    for (const [test, error] of rejected) {
      await this.#events.emit('test-file-start', [test])
      await this.#fail(test, error)
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

    /** `index`: isolation 'test', the test (among those stock Jest runs) the sandbox runs. */
    const newWorker = async (p: Planned, slot: number, files: Planned[], index?: number): Promise<SandboxWorker> => {
      const { sandbox } = splitOptions(p.all)
      const writable = new Set<string>()
      const keep = new Set<string>()
      // The files of each project: its cache directory, snapshot directories, root dir.
      const byConfig = new Map<Config.ProjectConfig, string[]>()
      for (const f of files) {
        const c = f.test.context.config
        byConfig.set(c, [...(byConfig.get(c) ?? []), f.test.path])
      }
      for (const [config, paths_] of byConfig) {
        const forFiles = await paths.forFiles(config, paths_, sandbox.writable)
        for (const w of forFiles.writable) writable.add(w)
        for (const k of forFiles.keep) keep.add(k)
      }
      const compileCache = p.options.compileCache ? compileCacheFor() : undefined
      if (compileCache) writable.add(compileCache.dir)
      const missing = p.missing
      const sw = new SandboxWorker({
        sandbox: { ...sandbox, writable: [...writable], ...(missing ? { namespaces: false } : {}) },
        env: {
          ...compileCache?.env,
          ...(missing ? { [NO_NAMESPACES_ENV]: describeMissingIsolation({ missingIsolation: missing }) } : {}),
          ...(index === undefined ? {} : { [TEST_INDEX_ENV]: String(index) }),
        },
        keep: [...keep],
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
        const perTest = p.options.isolation === 'test'
        let sw: SandboxWorker
        const reuseKey = `${slot}\0${p.key}`
        const existing = reuse ? reused.get(reuseKey) : undefined
        // The probe has answered already (a file after the first): a host that refuses gets no worker at all.
        const known = p.hostError && (await Promise.race([p.hostError, Promise.resolve(PENDING)]))
        if (known instanceof Error) {
          await this.#events.emit('test-file-start', [p.test])
          throw known
        }
        if (existing) sw = existing
        else {
          sw = await newWorker(p, slot, reuse ? (byKey.get(p.key) ?? []) : [p], perTest ? 0 : undefined)
          if (reuse) reused.set(reuseKey, sw)
        }
        const hostError = await p.hostError
        if (hostError) {
          // This host cannot set the sandbox up: the worker (its launcher failing) goes, the file fails with the reason.
          if (reuse) reused.delete(reuseKey)
          live.delete(sw)
          void sw.end()
          await this.#events.emit('test-file-start', [p.test])
          throw hostError
        }
        await this.#events.emit('test-file-start', [p.test])
        if (perTest) {
          const start = (k: number) => newWorker(p, slot, [p], k)
          await this.#runPerTest(p, sw, start, request(p.test), onEvent, watcher, live)
          return
        }
        const started = performance.now()
        const run = await sw.run(request(p.test), onEvent)
        const wallMs = performance.now() - started
        if (reuse && run.error === undefined) {
          release()
          const report = reuseReport(p.test.path, run, sw.launch, this._globalConfig.rootDir, wallMs)
          await this.#success(p, run.result as TestResult, withMissing(report, p.missing))
          return
        }
        // Fresh mode, or a reused worker that failed: the sandbox ends here, and its result tells what happened.
        if (reuse) reused.delete(reuseKey)
        release()
        const ended = await sw.end()
        live.delete(sw)
        await this.#finishFresh(p, run, ended, p.missing)
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
          await this.#fail(p.test, error instanceof Error ? error : new Error(String(error)))
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

  /**
   * isolation 'test' (host/per-test.ts): the file's runs one after another,
   * one sandbox per test stock Jest would run; the first run's plan says how
   * many. The next sandbox starts while a test runs, so its worker's start
   * overlaps the test. Jest's reporters see one file: its start, its tests'
   * own events (a todo test's once), one merged result.
   */
  async #runPerTest(
    p: Planned,
    first: SandboxWorker,
    start: (k: number) => Promise<SandboxWorker>,
    request: Parameters<SandboxWorker['run']>[0],
    onEvent: (event: string, payload: unknown) => void,
    watcher: TestWatcher,
    live: Set<SandboxWorker>,
  ): Promise<void> {
    const runs: TestRun[] = []
    const started = performance.now()
    let n = 1
    let sw: SandboxWorker | undefined = first
    let next: Promise<SandboxWorker> | undefined
    try {
      for (let k = 0; sw; k++) {
        // The next test's sandbox starts with this one's run (the first run's plan says whether there is one).
        if (k > 0 && k + 1 < n) next ??= start(k + 1)
        let plan: PlanMessage | undefined
        const run = await sw.run(request, (event, payload) => {
          if (event === PLAN_EVENT) {
            plan = payload as PlanMessage
            if (k === 0) n = runsNeeded(plan)
            if (k + 1 < n) next ??= start(k + 1)
            return
          }
          if (k > 0 && event === 'test-case-result' && (payload as [string, { status?: string }])[1]?.status === 'todo')
            return
          onEvent(event, payload)
        })
        const ended = await sw.end()
        live.delete(sw)
        if (k === 0 && (run.result === undefined || run.error !== undefined)) {
          // The file failed as a whole (its worker died, a cap, a setup error): as in 'fresh' mode.
          await this.#finishFresh(p, run, ended, p.missing)
          return
        }
        runs.push({ run, plan, ended })
        if (k + 1 >= n) break
        if (watcher.isInterrupted()) throw new CancelRun()
        sw = await (next ?? start(k + 1))
        next = undefined
      }
    } finally {
      // A sandbox started ahead for a run that will not come (the file failed, or the run was interrupted).
      if (next)
        void next.then(
          (w) => {
            live.delete(w)
            return w.end()
          },
          () => {},
        )
    }
    const wallMs = performance.now() - started
    const result = mergeResults(runs, p.test.context.config, this._globalConfig)
    const report = perTestReport(p.test.path, runs, this._globalConfig.rootDir, wallMs)
    await this.#success(p, result, withMissing(report, p.missing))
  }

  /** A file that could not run: an option mistake, or a host that cannot set its sandbox up. */
  async #fail(test: Test, error: Error): Promise<void> {
    // A host's refusal is no bug of ours or the test's: its message and fix, without our stack frames.
    const code = (error as { code?: string }).code
    const stack = code ? `${error.name}: ${error.message}` : error.stack
    await this.#events.emit('test-file-failure', [
      test,
      { message: error.message, stack, type: error.name, ...(code ? { code } : {}) },
    ])
  }

  async #success(p: Planned, result: TestResult, report: ReturnType<typeof reuseReport>): Promise<void> {
    applyToResult(result, report, p.options, p.test.context.config, this._globalConfig)
    await this.#events.emit('test-file-success', [p.test, result])
  }

  async #finishFresh(
    p: Planned,
    run: FileRun,
    ended: SandboxResult | Error,
    missing: MissingIsolation | undefined,
  ): Promise<void> {
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
    const report = withMissing(freshReport(test.path, run, ended, this._globalConfig.rootDir), missing)
    if (run.result && run.error === undefined) {
      await this.#success(p, run.result, report)
      return
    }
    const original = run.error instanceof Error ? run.error.message : String(run.error)
    const message = report.capHit ? `${capMessage(report.capHit)}\n${original}` : original
    await this.#events.emit('test-file-failure', [test, { message, stack: message, type: 'Error' }])
  }
}

/** Marks a file that ran without namespaces, and why. */
function withMissing<R extends { missingIsolation?: MissingIsolation }>(
  report: R,
  missing: MissingIsolation | undefined,
): R {
  if (missing) report.missingIsolation = missing
  return report
}
