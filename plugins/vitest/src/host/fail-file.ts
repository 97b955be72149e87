/**
 * A sandbox that died of a cap (the worker OOM-killed) takes its test file
 * with it. Vitest would report "Worker exited unexpectedly with signal
 * SIGKILL" as an unhandled error and leave the file uncounted; instead the
 * file (and the test that was running) is marked failed with the message
 * naming the cap, through the same state updates a worker sends, so every
 * reporter (default, JUnit, JSON) shows a failed file.
 *
 * This uses Vitest's run state (`vitest.state`, `vitest._testRun`), which is
 * not a public API: when it is not there, the caller falls back to emitting
 * the error (an unhandled error naming the cap).
 */
import type { TestProject } from 'vitest/node'

interface TaskLike {
  id: string
  type: string
  name: string
  projectName?: string
  result?: { state: string; errors?: unknown[]; duration?: number }
  tasks?: TaskLike[]
  meta?: unknown
}

interface StateLike {
  filesMap: Map<string, TaskLike[]>
}

interface TestRunLike {
  updated(update: [string, TaskLike['result'], unknown][], events: [string, string, undefined][]): Promise<void>
}

function walk(task: TaskLike, out: TaskLike[] = []): TaskLike[] {
  out.push(task)
  for (const t of task.tasks ?? []) walk(t, out)
  return out
}

/** Marks `filepath` failed with `error`. Returns false when Vitest's state is not reachable. */
export async function failFile(project: TestProject, filepath: string, error: Error): Promise<boolean> {
  const vitest = project.vitest as unknown as { state?: StateLike; _testRun?: TestRunLike }
  const file = vitest.state?.filesMap?.get(filepath)?.find((f) => (f.projectName ?? '') === (project.name ?? ''))
  if (!file || !vitest._testRun) return false
  const serialized = { name: error.name, message: error.message, stack: error.stack ?? '' }
  const update: [string, TaskLike['result'], unknown][] = []
  const events: [string, string, undefined][] = []
  // The test that was running: marked 'run' when its start reached us, else the first unfinished one.
  const tests = walk(file).filter((t) => t.type === 'test')
  const culprit =
    tests.find((t) => t.result?.state === 'run') ?? tests.find((t) => !t.result || t.result.state === 'queued')
  for (const t of walk(file).reverse()) {
    const running = !t.result || t.result.state === 'run' || t.result.state === 'queued'
    if (t === file) {
      t.result = { ...(t.result ?? {}), state: 'fail', errors: [...(t.result?.errors ?? []), serialized] }
    } else if (running && t.type === 'test') {
      // Only the test that was running gets the error; the rest never ran.
      t.result = t === culprit ? { ...(t.result ?? {}), state: 'fail', errors: [serialized] } : { state: 'skip' }
      events.push([t.id, 'test-finished', undefined])
    } else if (running) {
      t.result = { ...(t.result ?? {}), state: 'fail' }
      events.push([t.id, 'suite-finished', undefined])
    } else continue
    update.push([t.id, t.result, t.meta])
  }
  events.push([file.id, 'suite-finished', undefined])
  try {
    await vitest._testRun.updated(update, events)
  } catch {
    // A reporter that cannot take the update: the file is still marked failed.
  }
  return true
}
