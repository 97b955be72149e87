/**
 * The run's status directory (host side): the launcher of each sandbox
 * writes PID 1's final report to a file in it. It is removed when the run
 * ends, also on `process.exit` (`--bail`, `q` in watch mode); a Jest killed
 * by a signal (SIGTERM, Ctrl-C outside watch mode, SIGKILL) runs no exit
 * handler, so the next run removes what dead runs left: the name says whose
 * it was (pid and PID namespace, as the core's cgroup names do).
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PREFIX = 'ns-isolated-jest-'

function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0'
  } catch {
    return '0'
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes the status directories of runs (in this PID namespace) that are gone. */
export function sweepStatusDirs(dir = tmpdir()): void {
  const ns = pidNamespace()
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
    if (pid === process.pid || alive(pid)) continue
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
  return mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-${pidNamespace()}-`))
}
