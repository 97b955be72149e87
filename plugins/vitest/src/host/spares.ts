/**
 * Spare workers (`prewarm`, default on): when a sandboxed worker starts and
 * more files of its project are still to come in this run, the next one is
 * booted at once (its own fresh sandbox, Node started, Vitest's worker
 * module loaded) while this file runs. The next file whose worker would be
 * the same process (same spec key: options, env, execArgv, cwd) adopts it
 * instead of waiting for a boot. A spare is used by one file at most, so
 * every file still gets namespaces nobody used before.
 *
 * What is not adopted is stopped when the run ends (before the report) or
 * Vitest closes; nothing of it outlives the run.
 */
import type { TestProject, TestSpecification } from 'vitest/node'
import { type Boot, discard } from './boot.ts'

export class Spares {
  private idle: Boot[] = []
  /** Files per project this run has yet to start (from the run's specifications). */
  private remaining = new Map<TestProject, number>()
  private draining = new Set<Promise<void>>()

  /** A run starts with these files: spares are booted for them only. */
  runStarting(specifications: readonly TestSpecification[]): void {
    this.remaining.clear()
    for (const s of specifications) this.remaining.set(s.project, (this.remaining.get(s.project) ?? 0) + 1)
  }

  /** A file of `project` starts its worker: a spare of the same key, if one is ready to use. */
  take(project: TestProject, key: string): Boot | undefined {
    const left = this.remaining.get(project)
    if (left !== undefined) this.remaining.set(project, Math.max(0, left - 1))
    const i = this.idle.findIndex((b) => b.spec.key === key && !b.gone())
    if (i === -1) return undefined
    const [boot] = this.idle.splice(i, 1)
    return boot
  }

  /** Boots a spare like `spec` when more files of its project are to come than spares wait for them. */
  refill(project: TestProject, make: () => Boot | undefined): void {
    this.reap()
    const waiting = this.idle.filter((b) => b.spec.project === project).length
    if ((this.remaining.get(project) ?? 0) <= waiting) return
    let boot: Boot | undefined
    try {
      boot = make()
    } catch {
      // The file that needs it boots its own, and reports why that fails.
    }
    if (boot) this.idle.push(boot)
  }

  /** Stops every spare (the run ended, or Vitest closes) and waits until their sandboxes are gone. */
  async drain(): Promise<void> {
    this.remaining.clear()
    const boots = this.idle.splice(0)
    const done = Promise.all(boots.map(discard)).then(() => undefined)
    this.draining.add(done)
    try {
      await Promise.all([...this.draining])
    } finally {
      this.draining.delete(done)
    }
  }

  /** A spare that died on its own (it never ran a file) is cleaned up. */
  private reap(): void {
    const dead = this.idle.filter((b) => b.gone())
    if (dead.length === 0) return
    this.idle = this.idle.filter((b) => !b.gone())
    const done = Promise.all(dead.map(discard)).then(() => undefined)
    this.draining.add(done)
    void done.finally(() => this.draining.delete(done))
  }
}
