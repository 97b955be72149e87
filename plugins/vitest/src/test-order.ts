/**
 * `isolation: 'test'`: which tests of a file get a sandbox, in which order.
 * Both sides use it: the worker picks its one test by index, the runner's
 * pool knows from the same index which test a sandbox ran. Tests are
 * counted in tree order (names can repeat; ids cannot, but an id is a hash
 * the worker would have to find), over what stock Vitest would run once the
 * file is collected (only, skip, todo and `-t` already applied).
 */

/** The part of Vitest's task tree this reads and changes (a `File`, `Suite` or `Test`). */
export interface TaskNode {
  id: string
  type: string
  mode: string
  tasks?: TaskNode[]
}

function runs(task: TaskNode): boolean {
  return task.mode === 'run' || task.mode === 'queued'
}

/** The tests stock Vitest would run, in tree order. */
export function runnableTests(file: TaskNode): TaskNode[] {
  const out: TaskNode[] = []
  const walk = (t: TaskNode): void => {
    if (t.type === 'test') {
      if (runs(t)) out.push(t)
      return
    }
    if (runs(t) || t === file) for (const c of t.tasks ?? []) walk(c)
  }
  walk(file)
  return out
}

/** The suites (the file first) that enclose `test`, outermost first; empty when it is not in `file`. */
export function enclosingSuites(file: TaskNode, test: TaskNode): TaskNode[] {
  const path: TaskNode[] = []
  const walk = (t: TaskNode): boolean => {
    if (t === test) return true
    if (!t.tasks) return false
    path.push(t)
    for (const c of t.tasks) if (walk(c)) return true
    path.pop()
    return false
  }
  return walk(file) ? path : []
}

/**
 * Leaves test #`index` (of `runnableTests`) the only one to run: every other
 * test stock would run is skipped, and so is every suite this left without
 * a test to run (as Vitest's own mode rules do), so only the hooks of the
 * test's enclosing suites run. A suite stock runs without any test in it is
 * left as it is. Returns the tasks it skipped, or undefined when there is no
 * such index (nothing is changed then).
 */
export function keepOnlyTest(file: TaskNode, index: number): TaskNode[] | undefined {
  const tests = runnableTests(file)
  const kept = tests[index]
  if (!kept) return undefined
  const skipped: TaskNode[] = []
  // Whether `s` held a test skipped here; post-order, so inner suites are settled first.
  const settle = (s: TaskNode): boolean => {
    let held = false
    for (const c of s.tasks ?? []) {
      if (c.tasks) held = settle(c) || held
      else if (c !== kept && tests.includes(c)) {
        c.mode = 'skip'
        skipped.push(c)
        held = true
      }
    }
    if (held && s !== file && runs(s) && !(s.tasks ?? []).some(runs)) {
      s.mode = 'skip'
      skipped.push(s)
    }
    return held
  }
  settle(file)
  return skipped
}
