/**
 * `isolation: 'test'` inside one sandbox: the file's module scope has
 * defined its tests, and this sandbox runs one of them, its `index` among
 * the tests stock Jest would run, in tree order (an index, not a name:
 * names can repeat). At circus's `run_start` every other test stock Jest
 * would run is set to skip; circus then runs the `beforeAll`/`afterAll` of
 * the describes around the one test only (`getAllHooksForDescribe` runs a
 * describe's hooks when it has an enabled test), and leaves the tests stock
 * Jest skips as they are, so they report as in stock Jest.
 *
 * Console: the module scope runs in every sandbox of the file, a describe's
 * `beforeAll` in the sandbox of each of its tests. Only the sandbox whose
 * test stock Jest would have been running keeps what they print: the
 * module scope's in the first test's sandbox, a `beforeAll`'s in that of
 * the describe's first test, an `afterAll`'s in that of its last. Put
 * together in test order, the file's console reads as stock's.
 */
import type { Circus } from '@jest/types'
import type { PlanMessage } from '../messages'

type Write = (...args: unknown[]) => boolean
/** Jest's test console, as far as this needs it: BufferedConsole (`_buffer`), or CustomConsole under --verbose (writes at once). */
interface TestConsole {
  _buffer?: unknown[]
  _stdout?: { write: Write }
  _stderr?: { write: Write }
}

/** jest-snapshot's SnapshotState, as far as this needs it (Jest 29 and 30). */
interface SnapshotState {
  markSnapshotsAsCheckedForTest?(testName: string): void
  _uncheckedKeys?: Set<string>
}
/** Where `expect` keeps its state, the snapshot state among it, on the test's global (expect's own symbol). */
const EXPECT_STATE = Symbol.for('$$jest-matchers-object')

/**
 * Marks a skipped test's snapshots checked, hinted ones too (`name: hint 1`),
 * as Jest 30's `_addSnapshotData` does for every skipped test; Jest 29's
 * misses the hinted ones, which would read as obsolete in every other run
 * (and go under `-u`).
 */
function markChecked(snapshots: SnapshotState, testName: string): void {
  snapshots.markSnapshotsAsCheckedForTest?.(testName)
  for (const key of snapshots._uncheckedKeys ?? []) {
    if (key.replace(/ \d+$/, '').startsWith(`${testName}: `)) snapshots._uncheckedKeys?.delete(key)
  }
}

function pathOf(test: Circus.TestEntry): string[] {
  const path = [test.name]
  for (let b = test.parent; b?.parent; b = b.parent) path.unshift(b.name)
  return path
}

/** circus's test id (`getTestID`): the names below the root joined by spaces, what `-t` matches. */
function idOf(test: Circus.TestEntry): string {
  return pathOf(test).join(' ')
}

function testsOf(block: Circus.DescribeBlock, out: Circus.TestEntry[] = []): Circus.TestEntry[] {
  for (const child of block.children) {
    if (child.type === 'test') out.push(child)
    else testsOf(child, out)
  }
  return out
}

/** Whether stock Jest runs the test (circus's `_runTestInContext`: not skipped, not unfocused, matching `-t`, not todo). */
function stockRuns(test: Circus.TestEntry, state: Circus.State): boolean {
  if (test.parent.mode === 'skip' || test.mode === 'skip' || test.mode === 'todo') return false
  if (state.hasFocusedTests && test.mode === undefined) return false
  return !state.testNamePattern || state.testNamePattern.test(idOf(test))
}

export class OneTest {
  readonly #index: number
  readonly #console: TestConsole
  readonly #global: Record<symbol, unknown>
  #target: Circus.TestEntry | undefined
  /** The tests stock Jest runs that this sandbox skipped. */
  #skipped: Circus.TestEntry[] = []
  /** The describes whose beforeAll / afterAll output this sandbox keeps. */
  readonly #firstOf = new Set<Circus.DescribeBlock>()
  readonly #lastOf = new Set<Circus.DescribeBlock>()
  #last = false
  /** Where in the console's buffer the output this sandbox drops began; undefined while it keeps it. */
  #droppingFrom: number | undefined

  constructor(index: number, console: unknown, global: object) {
    this.#index = index
    this.#global = global as Record<symbol, unknown>
    this.#console = (console ?? {}) as TestConsole
    // --verbose prints as it logs: there, what is dropped is never written. Its streams are muted rather than
    // its methods wrapped: a wrapper would be one more stack frame, and Jest names a line's origin by counting them.
    const c = this.#console
    const dropping = () => this.#droppingFrom !== undefined
    for (const stream of new Set([c._stdout, c._stderr])) {
      if (typeof stream?.write !== 'function') continue
      const write = stream.write
      stream.write = function (this: unknown, ...args: unknown[]) {
        if (!dropping()) return write.apply(this, args)
        const done = args.find((a) => typeof a === 'function') as (() => void) | undefined
        done?.()
        return true
      }
    }
    // The module scope's output is the first test's.
    if (index !== 0) this.#drop()
  }

  /** At `run_start`: the plan for the runner; every test stock Jest runs but this one is set to skip. */
  start(state: Circus.State): PlanMessage {
    const all = testsOf(state.rootDescribeBlock)
    const runnable = all.flatMap((t, i) => (stockRuns(t, state) ? [i] : []))
    const targetAt = runnable[this.#index]
    const target = targetAt === undefined ? undefined : all[targetAt]
    if (target) {
      this.#target = target
      this.#last = this.#index === runnable.length - 1
      const seen = new Set<Circus.DescribeBlock>()
      for (const i of runnable) {
        const t = all[i] as Circus.TestEntry
        for (let b: Circus.DescribeBlock | undefined = t.parent; b; b = b.parent) {
          if (!seen.has(b) && t === target) this.#firstOf.add(b)
          seen.add(b)
        }
        if (t !== target) {
          t.mode = 'skip'
          this.#skipped.push(t)
        }
      }
      for (let i = runnable.length - 1, seenLast = new Set<Circus.DescribeBlock>(); i >= 0; i--) {
        const t = all[runnable[i] as number] as Circus.TestEntry
        for (let b: Circus.DescribeBlock | undefined = t.parent; b; b = b.parent) {
          if (!seenLast.has(b) && t === target) this.#lastOf.add(b)
          seenLast.add(b)
        }
      }
      this.#drop()
    } else this.#keep() // nothing to run: this sandbox's run is stock's
    return { tests: all.map(pathOf), runnable, target: target ? this.#index : null }
  }

  /** Keeps or drops console output by what is running (see the module's comment). */
  event(event: Circus.Event): void {
    if (!this.#target) return
    switch (event.name) {
      case 'hook_start': {
        const { type, parent } = event.hook
        if (type === 'beforeAll') this.#keepIf(this.#firstOf.has(parent))
        else if (type === 'afterAll') this.#keepIf(this.#lastOf.has(parent))
        break
      }
      case 'hook_success':
      case 'hook_failure':
        if (event.hook.type === 'beforeAll' || event.hook.type === 'afterAll') this.#drop()
        break
      case 'test_start':
        if (event.test === this.#target) this.#keep()
        break
      case 'test_done':
        if (event.test === this.#target) this.#drop()
        break
      case 'run_finish': {
        // circus adds the snapshot figures next: the tests skipped here keep their snapshots.
        const state = this.#global[EXPECT_STATE] as { state?: { snapshotState?: SnapshotState } } | undefined
        const snapshots = state?.state?.snapshotState
        if (snapshots) for (const t of this.#skipped) markChecked(snapshots, idOf(t))
        // Jest reads the console's buffer next: what was dropped goes now.
        this.#keep()
        if (!this.#last) this.#drop()
        break
      }
    }
  }

  #keepIf(keep: boolean): void {
    if (keep) this.#keep()
    else this.#drop()
  }

  #drop(): void {
    this.#droppingFrom ??= this.#console._buffer?.length ?? 0
  }

  #keep(): void {
    if (this.#droppingFrom === undefined) return
    this.#console._buffer?.splice(this.#droppingFrom)
    this.#droppingFrom = undefined
  }
}
