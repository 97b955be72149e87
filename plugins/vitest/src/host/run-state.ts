/**
 * What the workers of one Vitest instance leave for the reporter: one record
 * per sandbox (its files and the core's result) or per worker that ran
 * files without one (and why), and the sandboxes still ending. Vitest stops workers without waiting for them
 * (the run's end is reported while the last sandboxes are still exiting), so
 * the reporter waits for `settled()` before it reads the records.
 */
import type { CapHit, MissingIsolation, SandboxResult } from 'ns-isolated'
import type { WorkerRequest } from 'vitest/node'
import type { LeakPolicy } from '../options.ts'
import { Spares } from './spares.ts'

export interface CapsInfo {
  memory?: number | undefined
  pids?: number | undefined
  cpu?: number | undefined
}

/** How a worker's sandbox ended: the core's result. */
export type ResultWithUsage = SandboxResult

export interface SandboxRecord {
  /** Absolute paths of the test files the sandbox ran. */
  files: string[]
  projectName: string
  root: string
  leaks: LeakPolicy
  caps: CapsInfo
  /** Set when the sandbox ended. */
  result?: ResultWithUsage
  /** Set when the sandbox could not be set up or hit a cap; shown as the file's failure. */
  error?: Error
  capHit?: CapHit
  /** Set when its files ran without a sandbox (another environment, fallback 'unisolated'): why, for the report. */
  unsandboxed?: string
  /** Set when the sandbox ran without part of its isolation (fallback 'subreaper'): what, and why. */
  missingIsolation?: MissingIsolation
  /**
   * `isolation: 'test'`: the sandbox ran one test of its file, this one (its task id, known once the
   * file is collected); the file's other sandboxes share `group`.
   */
  perTest?: { group: object; test: string | undefined }
}

/** Adds the files a message sends the worker to its record. */
export function noteFiles(record: SandboxRecord, message: WorkerRequest): void {
  if (message.type !== 'run' && message.type !== 'collect') return
  for (const f of message.context.files) if (!record.files.includes(f.filepath)) record.files.push(f.filepath)
}

export class RunState {
  /** Workers booted ahead for the files to come (prewarm). */
  readonly spares = new Spares()
  readonly records: SandboxRecord[] = []
  /** Set when a file found the host refusing namespaces (fallback 'subreaper'): the run's next files start without them. */
  refused: MissingIsolation | undefined
  private pending = new Set<Promise<unknown>>()
  private warned = new Set<string>()
  private memos = new WeakMap<object, { key: string; value: unknown }>()

  add(record: SandboxRecord): SandboxRecord {
    this.records.push(record)
    return record
  }

  /** Forgets a record (a sandbox that ran no file: its start is retried, or falls back). */
  remove(record: SandboxRecord): void {
    const i = this.records.indexOf(record)
    if (i !== -1) this.records.splice(i, 1)
  }

  /** Tracks a sandbox that is still ending. */
  track(p: Promise<unknown>): void {
    const done = p.finally(() => this.pending.delete(done))
    this.pending.add(done)
  }

  /** Waits for every tracked sandbox (at most `ms`: a worker Vitest forgot to stop must not hang the report). */
  async settled(ms = 10_000): Promise<void> {
    const end = Date.now() + ms
    while (this.pending.size > 0 && Date.now() < end) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise((r) => {
          timer = setTimeout(r, Math.max(0, end - Date.now()))
        }),
      ])
      clearTimeout(timer)
    }
  }

  /** Forgets the records of a previous run (watch mode), and what was computed for it. */
  reset(): void {
    this.records.length = 0
    this.memos = new WeakMap()
  }

  /**
   * `make()` once per run for `owner` (a project) while `key` stays the same:
   * what every sandbox of a project needs and costs O(files) to find (the
   * passthrough paths) is not found again for each of its files.
   */
  memo<T>(owner: object, key: string, make: () => T): T {
    const hit = this.memos.get(owner)
    if (hit?.key === key) return hit.value as T
    const value = make()
    this.memos.set(owner, { key, value })
    return value
  }

  /** Prints a warning once per key. */
  warnOnce(key: string, message: string, log: (m: string) => void): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    log(message)
  }
}
