/**
 * Preloaded (`node --import`) into every sandboxed worker, and only there:
 * it installs the per-test tracker (`track.cts`) around every test the
 * worker runs, ahead of the project's setup files and hooks.
 *
 * Why not a setup file: Vitest loads every setup file through its module
 * runner, an RPC to the main process per file (even an empty setup file
 * costs every test file time), and a setup file runs in every file of the
 * project, sandboxed or not. Here nothing goes through the module runner and
 * files that are not sandboxed carry nothing.
 *
 * How: the tracker wraps three methods of Vitest's `TestRunner` (the runner
 * of every worker, and the base class of custom runners). `importFile`,
 * through which Vitest imports each file's setup files and then the file:
 * the first import of each file starts the tracker's per-file state, exactly
 * where a first setup file would. `onBeforeTryTask` and `onAfterRetryTask`,
 * which the runner calls around every attempt of every test. The class is
 * taken from the very Vitest that started this worker (its `dist/index.js`,
 * named by the pool), not from whatever `vitest` this package would resolve.
 */
import module, { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { TEST_INDEX_KEY, VITEST_INDEX_ENV } from '../names.ts'
import { keepOnlyTest, type TaskNode } from '../test-order.ts'
import type { Hooks, TrackedTest, Tracker } from './track.cts'

/** A test or suite as the runner passes it (the part used here). */
type RunTask = TaskNode & { suite?: object; file?: object }
type Runner = {
  onCollected?(this: unknown, files: TaskNode[]): unknown
  onBeforeRunTask?(this: unknown, test: RunTask): unknown
  onBeforeRunSuite?(this: unknown, suite: RunTask): unknown
  importFile(this: unknown, filepath: string, source: 'setup' | 'collect'): unknown
  onBeforeTryTask?(this: unknown, test: TrackedTest, options: unknown): unknown
  onAfterRetryTask?(this: unknown, test: TrackedTest, options: unknown): unknown
}
type RunnerClass = { prototype: Runner }
/** Vitest's index: its hooks, and the worker's runner class (Vitest 4.1 and 5; 4.0 has it in `runners.js`). */
type VitestIndex = Hooks & { TestRunner?: RunnerClass }

const index = process.env[VITEST_INDEX_ENV]
// Not for the processes a test starts: they inherit the environment and, through fork(), the execArgv.
delete process.env[VITEST_INDEX_ENV]
const self = `--import=${import.meta.url}`
for (let i = process.execArgv.indexOf(self); i !== -1; i = process.execArgv.indexOf(self)) process.execArgv.splice(i, 1)

/**
 * Installs the tracker on the worker's `TestRunner` (the base class of every runner): around each
 * attempt of each test through the runner's own per-attempt methods, and at each file's start
 * through `importFile`.
 */
function patch(vitest: VitestIndex, Runner: RunnerClass): void {
  patchOneTest(Runner)
  const { createTracker } = require('./track.cjs') as { createTracker(): Tracker | undefined }
  const tracker = createTracker()
  if (!tracker) return
  const proto = Runner.prototype
  const { importFile, onBeforeTryTask, onAfterRetryTask } = proto
  // Each file's collection imports its setup files ('setup') and then the file ('collect'): the first
  // import after the previous file's 'collect' starts the next file. A setup file that throws ends its
  // file's collection there (no 'collect' follows): the next import starts the next file then too.
  let due = true
  proto.importFile = function (filepath, source) {
    if (due) tracker.fileStarts(vitest.afterAll)
    due = source === 'collect'
    const imported = importFile.call(this, filepath, source)
    if (source === 'setup')
      Promise.resolve(imported).catch(() => {
        due = true
      })
    return imported
  }
  // The runner calls these for every attempt of a test (retries, repeats): the first before its
  // beforeEach hooks, the second after its afterEach hooks and onTestFinished callbacks; what the
  // second throws fails the test. Methods, not hooks registered with beforeEach/afterEach: Vitest's
  // hook machinery costs every worker CPU, and its hooks ran before onTestFinished cleanups.
  proto.onBeforeTryTask = function (test, options) {
    tracker.beforeTry(test)
    return onBeforeTryTask?.call(this, test, options)
  }
  proto.onAfterRetryTask = async function (test, options) {
    await onAfterRetryTask?.call(this, test, options)
    await tracker.afterTry(test)
  }
}

/** `isolation: 'test'`: the index of this sandbox's test, from the pool's `run` message (see `patchOneTest`). */
let testIndex: number | undefined
/** The real one: a file's module scope may have installed fake timers by the time it is used. */
const realSetImmediate = globalThis.setImmediate

/**
 * `isolation: 'test'`: once the file is collected, and only after Vitest has sent the whole tree to
 * the runner as stock would run it (its runner calls this method after its own RPC), every test but
 * this sandbox's own is skipped. Skipped, they keep their snapshots (Vitest marks a skipped test's
 * snapshots checked), and the suites left without a test run no hooks.
 *
 * Where stock would have run such a task, its runner moved the worker's current task (to which
 * console output is attributed) past it; a skipped one leaves it in place (a suite) or untouched (a
 * test). Both are moved on here as stock would, so a file's `afterAll` prints under the file.
 */
function patchOneTest(Runner: RunnerClass): void {
  const proto = Runner.prototype
  const { onCollected, onBeforeRunTask, onBeforeRunSuite } = proto
  const skipped = new WeakSet<object>()
  proto.onCollected = async function (files) {
    await onCollected?.call(this, files)
    if (testIndex === undefined) return
    // The tree went out through an RPC call that may be posted a tick later: change it after that.
    await new Promise((r) => realSetImmediate(r))
    for (const file of files) for (const t of keepOnlyTest(file, testIndex) ?? []) skipped.add(t)
  }
  const moveOn = (runner: unknown, task: RunTask) => {
    const state = (runner as { workerState?: { current?: unknown } }).workerState
    if (state && skipped.has(task)) state.current = task.suite || task.file
  }
  proto.onBeforeRunTask = async function (test) {
    await onBeforeRunTask?.call(this, test)
    moveOn(this, test)
  }
  proto.onBeforeRunSuite = async function (suite) {
    await onBeforeRunSuite?.call(this, suite)
    moveOn(this, suite)
  }
}

const require = createRequire(import.meta.url)

/** Our listener of the pool's messages, run before Vitest's own. */
function onMessage(m: unknown): void {
  const type = (m as { type?: unknown } | null)?.type
  if (type === 'run') {
    const index = (m as Record<string, unknown>)[TEST_INDEX_KEY]
    testIndex = typeof index === 'number' ? index : undefined
  }
  if (first) {
    first = false
    if (index) patchWhenLoaded(index)
  }
  // The sandboxed worker is ended by a signal once stopped, so Node's own write of the compile cache
  // at exit never happens: write it when Vitest says stop. Vitest 5 does so itself after its teardown
  // (this earlier write leaves it little to add); Vitest 4 does not, and its workers' cache stayed empty.
  if (type === 'stop') module.flushCompileCache?.()
}
let first = true

/**
 * Patches the worker's TestRunner when Vitest's first message arrives, not here: by then the worker's
 * own entry has loaded every module of Vitest's index (its forks entry imports them all), and a
 * synchronous require of the loaded ES module costs nothing, where an import here, ahead of the entry,
 * costs each worker CPU. Our listener runs first, so the patch is in place before Vitest handles the
 * message, and the first file is imported only after a later message ('run' or 'collect').
 */
function patchWhenLoaded(url: string): void {
  const off = (e: unknown) =>
    process.stderr.write(`ns-isolated: per-test figures are off in this worker: could not load ${url}: ${e}\n`)
  // Vitest 4.0 keeps the runner class in `runners.js` (as VitestTestRunner), beside its index.
  const runners = new URL('runners.js', url)
  let vitest: VitestIndex
  let Runner: RunnerClass | undefined
  try {
    vitest = require(fileURLToPath(url)) as VitestIndex
    Runner =
      vitest.TestRunner ?? (require(fileURLToPath(runners)) as { VitestTestRunner?: RunnerClass }).VitestTestRunner
  } catch {
    // An index that cannot be required synchronously (top-level await in a future Vitest): import it.
    // Still before the first file: Vitest answers this message first and only then sends the file.
    import(url).then((v: VitestIndex) => {
      if (v.TestRunner) patch(v, v.TestRunner)
      else off('no TestRunner')
    }, off)
    return
  }
  if (Runner) patch(vitest, Runner)
  else off('no TestRunner')
}

// Our listener is added when Vitest adds its own, ahead of it, and not before: Node holds the pool's
// messages until the process listens, and a listener of ours alone would have them delivered before
// Vitest's entry (an ES module, loaded after this preload) listens. Its 'start' was then lost and the
// run waited forever (Node 20, where the entry loads asynchronously).
const whenVitestListens = (event: string | symbol): void => {
  if (event !== 'message') return
  process.off('newListener', whenVitestListens)
  process.prependListener('message', onMessage)
}
process.on('newListener', whenVitestListens)
