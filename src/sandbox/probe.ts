/**
 * Sandbox side: figures taken from inside a running sandbox, around a unit of
 * work (a test). Import it from `ns-isolated/sandbox` in code that runs in
 * the sandbox.
 *
 * Exact and approximate:
 * - `cpuMs`: from the sandbox's cgroup (`cpu.stat` on cgroup2/hybrid,
 *   `cpuacct.usage` on v1): exact for the whole sandbox tree, so work that
 *   runs concurrently with the test (a leaked process, a timer of another
 *   test) is counted too. Without a readable cgroup (rootless), from /proc:
 *   each live process's time plus what it reaped (src/sandbox/proc.ts).
 * - `started`: tasks (processes and threads) created between the samples,
 *   from the PID namespace's last allocated pid (`/proc/sys/kernel/ns_last_pid`:
 *   pids are handed out in order in a fresh namespace). Exact until pids wrap
 *   at pid_max; includes threads (Node's own workers, libuv's pool).
 * - `leaked`: from the sandbox's own /proc (it lists only the sandbox): the
 *   processes alive at the second sample that were not at the first.
 * - No per-test peak memory: resetting the peak is noisy (V8 frees in the
 *   background), so peaks are reported per file only.
 */
import { INSIDE_ENV } from '../protocol.ts'
import { cgroupCounters } from './cgroup.ts'
import { commandOf, launcherPid, namespaceLastPid, sandboxCpuMs, sandboxProcesses } from './proc.ts'

export interface SandboxSample {
  /** performance.now() when taken. */
  at: number
  /** CPU of the sandbox so far, ms (see the module doc for how exact). */
  cpuMs: number | null
  /** Processes alive inside (pid as seen inside → command line), without the launcher and this process. */
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

/** Takes a sample of the sandbox now. Cheap: one /proc scan and one cgroup read. */
export function sampleSandbox(): SandboxSample {
  const all = sandboxProcesses()
  const processes = new Map<number, string>()
  const launcher = launcherPid()
  for (const p of all) {
    if (p.pid === launcher || p.pid === process.pid || p.state === 'Z') continue
    processes.set(p.pid, commandOf(p.pid))
  }
  return {
    at: performance.now(),
    cpuMs: cgroupCounters().cpuMs() ?? sandboxCpuMs(all),
    processes,
    lastPid: namespaceLastPid(),
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
