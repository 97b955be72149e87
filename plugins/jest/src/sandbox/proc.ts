/**
 * Reading the sandbox's own /proc (worker side). Inside, /proc belongs to the
 * sandbox's PID namespace: every pid listed is a process of this sandbox, so
 * a scan is cheap (a handful of entries) and tells exactly what the tests
 * started.
 *
 * Without namespaces (`fallback: 'subreaper'`), /proc is the host's: the
 * sandbox is then the launcher (this worker's parent, the subreaper every
 * orphan of the tree is reparented to) and what descends from it; a scan
 * reads every host process's stat line to find them.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { NO_NAMESPACES_ENV } from '../messages'

/** /proc is the host's, and the sandbox is the launcher's subtree (see the module's comment). */
export const HOST_PROC = process.env[NO_NAMESPACES_ENV] !== undefined

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture Node runs on. */
const TICK_MS = 10
const PAGE = 4096

export interface ProcEntry {
  pid: number
  ppid: number
  state: string
  /** Start time in clock ticks since boot: with the pid, identifies a process (pids are reused). */
  start: number
  /** Own CPU plus the CPU of the children it reaped, ms. */
  cpuMs: number
  /** The CPU of the children it reaped alone, ms. */
  childrenCpuMs: number
  threads: number
  rssBytes: number
}

/** One process's stat line, or null when it is gone. */
export function readStat(pid: number | 'self'): ProcEntry | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name is in parentheses and may contain anything, spaces and ')' included.
  const close = text.lastIndexOf(')')
  const f = text.slice(close + 2).split(' ')
  const n = (i: number) => Number(f[i] ?? 0)
  return {
    pid: Number(text.slice(0, text.indexOf(' '))),
    state: f[0] ?? '?',
    ppid: n(1),
    cpuMs: (n(11) + n(12) + n(13) + n(14)) * TICK_MS,
    childrenCpuMs: (n(13) + n(14)) * TICK_MS,
    threads: n(17),
    start: n(19),
    rssBytes: n(21) * PAGE,
  }
}

/** The last pid the sandbox's PID namespace handed out, to a process or a thread; null where unreadable. */
function lastPid(): number | null {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'))
    return Number.isInteger(n) ? n : null
  } catch {
    return null
  }
}

/** Set by a pass that found only PID 1 and this worker: the last pid handed out then, and PID 1's entry. */
let alone: { lastPid: number; init: ProcEntry } | undefined

/**
 * Every process of the sandbox, zombies included. When the previous pass
 * found only PID 1 and this worker and no pid was handed out since (every
 * new process and thread takes one), no other process can exist: only this
 * worker's own entry is read again, not the whole of /proc.
 */
export function listProcesses(): ProcEntry[] {
  if (HOST_PROC) return subtree(process.ppid)
  const last = lastPid()
  if (alone && last !== null && last === alone.lastPid) {
    const self = readStat(process.pid)
    if (self) return [alone.init, self]
  }
  const out = allProcesses()
  const init = out.find((p) => p.pid === 1)
  alone =
    last !== null && init !== undefined && out.length === 2 && out.some((p) => p.pid === process.pid)
      ? { lastPid: last, init }
      : undefined
  return out
}

/** Every process of the host, zombies included. */
function allProcesses(): ProcEntry[] {
  const out: ProcEntry[] = []
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue
    const e = readStat(Number(name))
    if (e) out.push(e)
  }
  return out
}

/** `root` and everything that descends from it, from one pass over the host's /proc. */
function subtree(root: number): ProcEntry[] {
  const all = allProcesses()
  const children = new Map<number, ProcEntry[]>()
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p])
  const out = all.filter((p) => p.pid === root)
  for (let i = 0; i < out.length; i++) out.push(...(children.get((out[i] as ProcEntry).pid) ?? []))
  return out
}

/** A process's command line, readable. */
export function commandOf(pid: number): string {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    const cmd = raw.split('\0').filter(Boolean).join(' ')
    if (cmd) return cmd
    return `[${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}]`
  } catch {
    return '?'
  }
}

/**
 * CPU of everything that ran in the sandbox so far, ms: for each live
 * process its own time plus what it reaped (a dead process's time lands in
 * exactly one reaper's `cutime`). The worker's own share comes from
 * `process.cpuUsage()`, which has microsecond resolution.
 */
export function sandboxCpuMs(processes: ProcEntry[]): number {
  const own = process.cpuUsage()
  let total = (own.user + own.system) / 1000
  // the worker's reaped children only (its own time is in `own`), from the same scan
  for (const p of processes) total += p.pid === process.pid ? p.childrenCpuMs : p.cpuMs
  return total
}

/** Peak RSS of this process (VmHWM), bytes. */
export function peakRss(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/** Resets VmHWM (write 5 to clear_refs, Linux ≥ 4.0). False when refused. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}
