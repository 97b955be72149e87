/**
 * `isolation: 'test'`: the RPC calls of a file's N sandboxed runs (one test
 * each) turned into the one stream Vitest's state and reporters see for a
 * file run normally. Pure bookkeeping over Vitest's messages; the runs
 * themselves are per-test.ts's.
 *
 * - Run 0 reports the collected tree (stock modes: only, skip, todo, `-t`
 *   applied); later runs' trees are checked against it and dropped.
 * - A test stock would not run (skipped, todo) is reported by the run of
 *   the test before it, where stock reports it.
 * - Each run passes on the results of its own test only (the others were
 *   skipped in its sandbox).
 * - A suite (the file too) is entered by every run of a test under it: its
 *   `suite-prepare` goes out with the first of them, its `suite-finished`
 *   with the last, its result merged over them (failed if any failed, the
 *   durations summed, each distinct error once).
 * - Snapshots: the counts add up; a key is obsolete when any run left it
 *   unchecked (a run skips every other test, which marks their keys
 *   checked: what a run leaves unchecked no test of the file checks).
 *   The merged result goes out with the last run.
 */
import type { TaskNode } from '../test-order.ts'
import { enclosingSuites, runnableTests } from '../test-order.ts'

/** Vitest's `SnapshotResult` (not exported by `vitest/node`). */
export interface SnapshotResult {
  filepath: string
  added: number
  fileDeleted: boolean
  matched: number
  unchecked: number
  uncheckedKeys: string[]
  unmatched: number
  updated: number
}

interface ErrorLike {
  name?: string
  message?: string
  stack?: string
}

/** A task's result as Vitest sends it (the part merged here). */
interface TaskResult {
  state: string
  startTime?: number
  duration?: number
  errors?: ErrorLike[]
  [key: string]: unknown
}

/** `onTaskUpdate`'s arguments: `[id, result, meta]` and `[id, event, data]`. */
export type TaskPack = [string, TaskResult | undefined, unknown]
export type TaskEvent = [string, string, unknown]

/** Which runs enter a suite: those of the tests under it. */
interface Span {
  first: number
  last: number
}

/** What run 0's collected tree says about the runs to come. */
export interface RunPlan {
  /** The file's task id. */
  file: string
  /** Ids of the tests stock would run, in tree order: run k runs tests[k]. */
  tests: string[]
  suites: Map<string, Span>
  /**
   * The run that reports each task stock would not run (skipped, todo; a suite without tests): the
   * run of the last test before it in its suite (else the suite's first run), so it comes out where
   * stock reports it. Tasks inside a suite stock skips are not reported, by stock nor here.
   */
  owners: Map<string, number>
}

/** The plan of a file's runs, from its collected tree (`onCollected`'s argument in run 0). */
export function planRuns(file: TaskNode): RunPlan {
  const tests = runnableTests(file)
  const suites = new Map<string, Span>()
  for (const [k, test] of tests.entries()) {
    for (const s of enclosingSuites(file, test)) {
      const span = suites.get(s.id)
      if (span) span.last = k
      else suites.set(s.id, { first: k, last: k })
    }
  }
  const index = new Map(tests.map((t, k) => [t.id, k]))
  const owners = new Map<string, number>()
  const walk = (suite: TaskNode, span: Span): void => {
    let last = span.first
    for (const c of suite.tasks ?? []) {
      const k = index.get(c.id)
      const inner = suites.get(c.id)
      if (k !== undefined) last = k
      else if (inner) {
        walk(c, inner)
        last = inner.last
      } else owners.set(c.id, last)
    }
  }
  const span = suites.get(file.id)
  if (span) walk(file, span)
  return { file: file.id, tests: tests.map((t) => t.id), suites, owners }
}

function errorKey(e: ErrorLike): string {
  return `${e.name}\0${e.message}\0${e.stack}`
}

/** Merges the runs' RPC calls into one file's (see the module doc). One per file. */
export class RunMerge {
  readonly plan: RunPlan
  /** Each suite's final result in each run that entered it. */
  private finals = new Map<string, TaskResult[]>()
  private starts = new Map<string, number>()
  /** Each suite's latest meta (Vitest replaces a task's meta with each update's). */
  private metas = new Map<string, unknown>()
  private snapshots: SnapshotResult[] = []
  /** Errors for the file that no run reported (a run whose tree differs). */
  private fileErrors: ErrorLike[] = []

  constructor(plan: RunPlan) {
    this.plan = plan
  }

  /** How many sandboxed runs the file takes (at least one: a file with no test to run still runs once). */
  get runs(): number {
    return Math.max(1, this.plan.tests.length)
  }

  /** Run k's collected tree, which is dropped: an error for the file when it differs from run 0's. */
  checkTree(k: number, file: TaskNode): void {
    const tests = runnableTests(file).map((t) => t.id)
    if (tests.join('\0') === this.plan.tests.join('\0')) return
    const message = `ns-isolated (isolation 'test'): the tests collected in the sandbox of test #${k + 1} differ from the first sandbox's (${tests.length} to run, not ${this.plan.tests.length}): each test runs in a sandbox of its own and the file's top-level code runs again in each, so it must declare the same tests every time.`
    this.fileErrors.push({ name: 'Error', message, stack: `Error: ${message}` })
  }

  /** Run k's `onTaskUpdate` arguments as Vitest should see them; undefined: nothing to pass on. */
  taskUpdate(k: number, packs: TaskPack[], events: TaskEvent[]): [TaskPack[], TaskEvent[]] | undefined {
    const outPacks: TaskPack[] = []
    for (const [id, result, meta] of packs) {
      const span = this.plan.suites.get(id)
      if (span) {
        if (k < span.first || k > span.last) continue
        this.metas.set(id, meta)
        outPacks.push([id, this.suiteResult(id, span, k, result), meta])
      } else if (this.passes(k, id)) outPacks.push([id, result, meta])
    }
    const outEvents = events.filter(([id, event]) => {
      const span = this.plan.suites.get(id)
      if (!span) return this.passes(k, id)
      if (event === 'suite-prepare') return k === span.first
      if (event === 'suite-finished') return k === span.last
      return k >= span.first && k <= span.last
    })
    if (outPacks.length === 0 && outEvents.length === 0) return undefined
    return [outPacks, outEvents]
  }

  /** Whether run k passes on the update of a test, or of a suite no run enters. */
  private passes(k: number, id: string): boolean {
    const target = this.plan.tests.indexOf(id)
    if (target !== -1) return target === k
    // What stock would not run comes from its owner; what stock does not report, from none.
    return this.plan.owners.get(id) === k
  }

  /** The suite's result so far, over the runs that entered it. */
  private suiteResult(id: string, span: Span, k: number, result: TaskResult | undefined): TaskResult | undefined {
    if (!result) return result
    if (!this.starts.has(id) && result.startTime !== undefined) this.starts.set(id, result.startTime)
    const final = result.state !== 'run' && result.state !== 'queued' && result.duration !== undefined
    if (final) {
      // One final result per run (the runner sends it once, with suite-finished).
      const finals = this.finals.get(id) ?? []
      finals[k - span.first] = result
      this.finals.set(id, finals)
    }
    if (!final || k < span.last) {
      return { ...result, state: 'run', startTime: this.starts.get(id), duration: undefined, errors: undefined }
    }
    return this.merged(id, result)
  }

  /** A suite's result over the final results of the runs that entered it (`last`: the latest). */
  private merged(id: string, last: TaskResult): TaskResult {
    const done = (this.finals.get(id) ?? []).filter((r): r is TaskResult => r !== undefined)
    const errors: ErrorLike[] = []
    const seen = new Set<string>()
    for (const e of [...done.flatMap((r) => r.errors ?? []), ...(id === this.plan.file ? this.fileErrors : [])]) {
      if (seen.has(errorKey(e))) continue
      seen.add(errorKey(e))
      errors.push(e)
    }
    const states = done.map((r) => r.state)
    const state = errors.length > 0 || states.includes('fail') ? 'fail' : states.includes('pass') ? 'pass' : last.state
    return {
      ...last,
      state,
      startTime: this.starts.get(id) ?? last.startTime,
      duration: done.reduce((a, r) => a + (r.duration ?? 0), 0),
      errors: errors.length > 0 ? errors : undefined,
    }
  }

  /**
   * The runs end after run k, before their plan's end (the run was cancelled, `--bail`): the suites
   * still open are finished with what the runs so far gave them, as `onTaskUpdate` arguments and the
   * snapshot result so far.
   */
  close(k: number): { update: [TaskPack[], TaskEvent[]]; snapshot: SnapshotResult | undefined } {
    const packs: TaskPack[] = []
    const events: TaskEvent[] = []
    // Innermost first, as the runner finishes them: the plan lists suites outermost first.
    for (const [id, span] of [...this.plan.suites].reverse()) {
      if (k < span.first || k >= span.last) continue
      const finals = (this.finals.get(id) ?? []).filter((r): r is TaskResult => r !== undefined)
      const last = finals.at(-1)
      if (!last) continue
      packs.push([id, this.merged(id, last), this.metas.get(id)])
      events.push([id, 'suite-finished', undefined])
    }
    return { update: [packs, events], snapshot: this.snapshotsSoFar() }
  }

  /** Holds run k's snapshot result; the merged one once the last run's is in. */
  snapshotSaved(k: number, result: SnapshotResult): SnapshotResult | undefined {
    this.snapshots[k] = result
    return k < this.runs - 1 ? undefined : this.snapshotsSoFar()
  }

  private snapshotsSoFar(): SnapshotResult | undefined {
    const all = this.snapshots.filter((s): s is SnapshotResult => s !== undefined)
    const first = all[0]
    if (!first) return undefined
    const sum = (f: (s: SnapshotResult) => number) => all.reduce((a, s) => a + f(s), 0)
    const uncheckedKeys = [...new Set(all.flatMap((s) => s.uncheckedKeys))]
    return {
      filepath: first.filepath,
      added: sum((s) => s.added),
      matched: sum((s) => s.matched),
      unmatched: sum((s) => s.unmatched),
      updated: sum((s) => s.updated),
      unchecked: uncheckedKeys.length,
      uncheckedKeys,
      fileDeleted: all.some((s) => s.fileDeleted),
    }
  }
}
