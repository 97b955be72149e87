/**
 * Sandbox side: figures taken from inside a running sandbox, around a unit of
 * work (a test), so the runner integrations can report per test. Import it
 * from `ns-isolated/sandbox` in code that runs in the sandbox.
 *
 * Exact and approximate:
 * - `cpuMs`: from the sandbox's cgroup (`cpu.stat` on cgroup2/hybrid,
 *   `cpuacct.usage` on v1): exact for the whole sandbox tree, so work that
 *   runs concurrently with the test (a leaked process, a timer of another
 *   test) is counted too. Without a readable cgroup (rootless), the sum of
 *   utime+stime of the processes alive at each sample: processes that started
 *   and ended between two samples are missed.
 * - `started`: tasks (processes and threads) created between the samples,
 *   from the PID namespace's last allocated pid (`/proc/sys/kernel/ns_last_pid`:
 *   pids are handed out in order in a fresh namespace). Exact until pids wrap
 *   at pid_max; includes threads (Node's own workers, libuv's pool).
 * - `leaked`: from the sandbox's own /proc (it lists only the sandbox): the
 *   processes alive at the second sample that were not at the first.
 * - No per-test peak memory: resetting the peak is noisy (V8 frees in the
 *   background), so peaks are reported per file only.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { INSIDE_ENV } from '../protocol.ts'

export interface SandboxSample {
  /** performance.now() when taken. */
  at: number
  /** CPU of the sandbox so far, ms (see the module doc for how exact). */
  cpuMs: number | null
  /** Processes alive inside (pid as seen inside → command line), without PID 1 and this process. */
  processes: Map<number, string>
  /** The last pid the sandbox's PID namespace handed out. */
  lastPid: number | null
}

export interface SandboxDelta {
  wallMs: number
  cpuMs: number | null
  /** Tasks (processes and threads) created between the samples. */
  started: number | null
  /** Processes alive at the second sample that were not at the first: left running by the work in between. */
  leaked: { pid: number; command: string }[]
}

/** True in a process that runs inside an ns-isolated sandbox. */
export function insideSandbox(): boolean {
  return process.env[INSIDE_ENV] !== undefined
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

let cgroupCpu: (() => number | null) | undefined

/** Finds this sandbox's CPU counter once: cgroup2 cpu.stat, else v1 cpuacct.usage, else none. */
function cpuCounter(): () => number | null {
  const lines = (read('/proc/self/cgroup') ?? '').trim().split('\n')
  for (const line of lines) {
    const [, controllers, path] = line.split(':', 3)
    if (controllers === '' && path !== undefined && path !== '/') {
      for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
        const file = `${root}${path}/cpu.stat`
        if (read(file) !== undefined) {
          return () => {
            const m = /^usage_usec (\d+)$/m.exec(read(file) ?? '')
            return m ? Number(m[1]) / 1000 : null
          }
        }
      }
    }
  }
  for (const line of lines) {
    const [, controllers, path] = line.split(':', 3)
    if (controllers?.split(',').includes('cpuacct') && path !== undefined && path !== '/') {
      for (const dir of ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu']) {
        const file = `/sys/fs/cgroup/${dir}${path}/cpuacct.usage`
        if (read(file) !== undefined) return () => Number(read(file)) / 1e6 || null
      }
    }
  }
  return () => null
}

const TICK_MS = 10 // USER_HZ is 100 on every Linux architecture Node runs on

/** Takes a sample of the sandbox now. Cheap: one /proc scan and one cgroup read. */
export function sampleSandbox(): SandboxSample {
  cgroupCpu ??= cpuCounter()
  const processes = new Map<number, string>()
  let ticks = 0
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 1) continue
    const stat = read(`/proc/${pid}/stat`)
    if (stat === undefined) continue
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12]) // utime, stime
    if (pid === process.pid) continue
    const cmd = read(`/proc/${pid}/cmdline`)?.replace(/\0+$/, '').replaceAll('\0', ' ')
    processes.set(pid, cmd || (read(`/proc/${pid}/comm`)?.trim() ?? '?'))
  }
  const cpu = cgroupCpu()
  const last = Number(read('/proc/sys/kernel/ns_last_pid'))
  return {
    at: performance.now(),
    cpuMs: cpu ?? ticks * TICK_MS,
    processes,
    lastPid: Number.isInteger(last) ? last : null,
  }
}

/** What happened between two samples. */
export function diffSamples(before: SandboxSample, after: SandboxSample): SandboxDelta {
  const leaked: SandboxDelta['leaked'] = []
  for (const [pid, command] of after.processes) if (!before.processes.has(pid)) leaked.push({ pid, command })
  return {
    wallMs: after.at - before.at,
    cpuMs: before.cpuMs !== null && after.cpuMs !== null ? Math.max(0, after.cpuMs - before.cpuMs) : null,
    started: before.lastPid !== null && after.lastPid !== null ? after.lastPid - before.lastPid : null,
    leaked,
  }
}
