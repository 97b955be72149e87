/**
 * Reading the sandbox's own /proc from the worker. Inside, /proc belongs to
 * the sandbox's PID namespace: it lists only the sandbox's processes (PID 1
 * is the launcher's init, the worker is PID 2), so "every process here" is
 * exactly "every process of this test file".
 */
import { readdirSync, readFileSync } from 'node:fs'

export interface Proc {
  pid: number
  /** Command line, arguments joined by spaces (the name in brackets for a kernel-less zombie). */
  command: string
  /** One-letter state (R, S, D, Z, ...). */
  state: string
}

/** USER_HZ, the unit of the CPU fields of /proc/<pid>/stat; 100 on every architecture Node runs on. */
const USER_HZ = 100

function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** Every live process of the sandbox but PID 1 (the launcher) and this worker. */
export function listProcs(): Proc[] {
  const out: Proc[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (pid === 1 || pid === process.pid) continue
    const fields = statFields(pid)
    if (!fields || fields[0] === 'Z' || fields[0] === 'X') continue
    let command = ''
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ')
    } catch {}
    out.push({ pid, command, state: fields[0] ?? '?' })
  }
  return out
}

/**
 * CPU (user + system, ms) of everything that ever ran in the sandbox: each
 * live process's own time plus what it collected from its reaped children
 * (orphans are reaped by PID 1, so they count in its children's time).
 */
export function treeCpuMs(): number {
  let ticks = 0
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = statFields(Number(name))
    if (!f) continue
    // fields from the state (index 0): utime 11, stime 12, cutime 13, cstime 14
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  }
  return (ticks * 1000) / USER_HZ
}
