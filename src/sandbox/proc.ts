/**
 * The sandbox's processes, read from /proc by code that runs inside it (the
 * runners' per-test trackers, `sampleSandbox`). The one scanner: small, and
 * it loads nothing but node:fs.
 *
 * Which processes are the sandbox's:
 * - with namespaces (`NS_ISOLATED_INSIDE` set), /proc is the sandbox's own
 *   PID namespace: every pid listed is one of its processes (PID 1 is the
 *   launcher, the command PID 2);
 * - without (`namespaces: false`), /proc is the host's, and the sandbox is
 *   the launcher's tree: the launcher is a child subreaper, so everything the
 *   command leaves behind reparents to it. Its tree is found from the parent
 *   of the process that asks (the command the launcher started).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { INSIDE_ENV, TEST_ENV } from '../protocol.ts'

/** USER_HZ, the unit of the CPU times in /proc/<pid>/stat: 100 on every Linux architecture Node runs on. */
const TICK_MS = 10
const PAGE = 4096

export interface ProcEntry {
  pid: number
  ppid: number
  /** R, S, D, Z, … (a zombie has ended and waits to be reaped). */
  state: string
  /** Session id (a `setsid` daemon leads a session of its own). */
  sid: number
  /** Start time in clock ticks since boot: with the pid, it names a process (pids are reused). */
  start: number
  /** Its own CPU plus the CPU of the children it reaped, ms. */
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
  // The command name is in parentheses and may hold anything, spaces and ')' included.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const n = (i: number) => Number(f[i] ?? 0)
  return {
    pid: Number(text.slice(0, text.indexOf(' '))),
    state: f[0] ?? '?',
    ppid: n(1),
    sid: n(3),
    cpuMs: (n(11) + n(12) + n(13) + n(14)) * TICK_MS,
    childrenCpuMs: (n(13) + n(14)) * TICK_MS,
    threads: n(17),
    start: n(19),
    rssBytes: n(21) * PAGE,
  }
}

function allProcesses(): ProcEntry[] {
  const out: ProcEntry[] = []
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    const e = readStat(Number(name))
    if (e) out.push(e)
  }
  return out
}

/**
 * The last pid this process's PID namespace handed out, to a process or a
 * thread (the host's, without a namespace of its own); pids are handed out
 * in order until they wrap. Null where unreadable.
 */
export function lastPid(): number | null {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'))
    return Number.isInteger(n) ? n : null
  } catch {
    return null
  }
}

/** `lastPid` of the sandbox's own PID namespace; null without one (the host's counts the host's). */
export function namespaceLastPid(): number | null {
  return process.env[INSIDE_ENV] === undefined ? null : lastPid()
}

/** Set by a pass that found only PID 1 and this process: the last pid handed out then, and PID 1's entry. */
let alone: { lastPid: number; init: ProcEntry } | undefined

/**
 * Every process of the sandbox, zombies included, the launcher (`launcherPid`)
 * among them. With namespaces, a pass that finds only PID 1 and this process
 * makes the next one cheap: while the namespace hands out no pid (every new
 * process and thread takes one), no other process can exist, and only this
 * process's own entry is read again.
 */
export function sandboxProcesses(): ProcEntry[] {
  if (process.env[INSIDE_ENV] === undefined) return launcherTree()
  const last = namespaceLastPid()
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

/** The launcher of this sandbox, as this process sees it: PID 1 in its namespace, else this process's parent. */
export function launcherPid(): number {
  return process.env[INSIDE_ENV] === undefined ? process.ppid : 1
}

/** Without namespaces: the launcher (this process's parent, a subreaper) and everything below it. */
function launcherTree(): ProcEntry[] {
  const all = allProcesses()
  const children = new Map<number, ProcEntry[]>()
  for (const p of all) {
    const list = children.get(p.ppid)
    if (list) list.push(p)
    else children.set(p.ppid, [p])
  }
  const root = all.find((p) => p.pid === process.ppid)
  if (!root) return all.filter((p) => p.pid === process.pid)
  const out = [root]
  for (let i = 0; i < out.length; i++) out.push(...(children.get((out[i] as ProcEntry).pid) ?? []))
  return out
}

/** A process's command line, arguments joined by spaces; `[comm]` for one without (a zombie); '?' when gone. */
export function commandOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    if (cmd) return cmd
    return `[${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}]`
  } catch {
    return '?'
  }
}

/**
 * A process's environment as /proc shows it (NUL-separated), undefined when
 * it cannot be read. Empty for a process in the middle of an exec (its new
 * memory has no environment yet) and for one started with none.
 */
export function environOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
  } catch {
    return undefined
  }
}

/**
 * The test a process was started for: the `NS_ISOLATED_TEST` its environment
 * carries (the trackers set it while a test runs; children inherit it through
 * fork and exec, a `setsid`, a shell's `&` and a double fork included).
 * undefined when it has none (started outside any test, or with an
 * environment of its own) or cannot be read.
 */
export function testMarkerOf(pid: number): string | undefined {
  return testMarkerIn(environOf(pid))
}

/** `testMarkerOf` for an environment already read (`environOf`). */
export function testMarkerIn(env: string | undefined): string | undefined {
  if (env === undefined) return undefined
  const key = `${TEST_ENV}=`
  for (const entry of env.split('\0')) {
    if (entry.startsWith(key)) return Buffer.from(entry.slice(key.length), 'latin1').toString('utf8') || undefined
  }
  return undefined
}

/**
 * CPU of everything that ran in the sandbox so far, ms: for each live
 * process its own time plus what it reaped (a dead process's time lands in
 * exactly one reaper's), this process's own from `process.cpuUsage()`
 * (microseconds, where /proc has ticks of 10 ms).
 */
export function sandboxCpuMs(processes: ProcEntry[]): number {
  const own = process.cpuUsage()
  let total = (own.user + own.system) / 1000
  for (const p of processes) total += p.pid === process.pid ? p.childrenCpuMs : p.cpuMs
  return total
}

/** Tasks (processes and threads) alive among `processes`: what a pids cap counts. */
export function taskCount(processes: ProcEntry[]): number {
  let n = 0
  for (const p of processes) if (p.state !== 'Z') n += p.threads
  return n
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

/** Resets VmHWM (5 into clear_refs, Linux 4.0+). False when refused. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}
