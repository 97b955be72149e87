/**
 * The run's status directory (host side): the launcher of each sandbox
 * writes PID 1's final report to a file in it. It is removed when the run
 * ends, also on `process.exit` (`--bail`, `q` in watch mode); a Jest killed
 * by a signal (SIGTERM, Ctrl-C outside watch mode, SIGKILL) runs no exit
 * handler, so the next run removes what dead runs left: the name says whose
 * it was (pid and PID namespace, as the core's cgroup names do).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isAlive, pidNamespaceId } from 'ns-isolated'

const PREFIX = 'ns-isolated-jest-'

/** Removes the status directories of runs (in this PID namespace) that are gone. */
export function sweepStatusDirs(dir = tmpdir()): void {
  const ns = pidNamespaceId()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-(\\d+)-`).exec(name)
    if (!m || m[2] !== ns) continue
    const pid = Number(m[1])
    if (pid === process.pid || isAlive(pid)) continue
    try {
      rmSync(join(dir, name), { recursive: true, force: true })
    } catch {
      // another user's: not ours to remove
    }
  }
}

/** A new status directory for this run, after sweeping those of dead runs. */
export function createStatusDir(): string {
  sweepStatusDirs()
  return mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-${pidNamespaceId()}-`))
}
