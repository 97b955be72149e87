/**
 * This sandbox's cgroup counters, read from inside (the host's cgroupfs is
 * visible read-only in a sandbox, or the sandbox's own cgroup namespace on
 * v2 with nsdelegate; /proc/self/cgroup names the cgroup). Located once per
 * process; then each read is one small file.
 *
 *   cpu:    v2/hybrid `cpu.stat` usage_usec, v1 `cpuacct.usage`
 *   memory: v2 `memory.events` oom_kill, v1 `memory.oom_control` oom_kill
 *   pids:   `pids.events` max (forks refused at the cap)
 */
import { existsSync, readFileSync } from 'node:fs'

export interface CgroupCounters {
  /** CPU of the whole sandbox so far, ms; null without a readable counter (no cgroup of its own). */
  cpuMs(): number | null
  /** Processes the kernel OOM-killed in the sandbox's memory cgroup; undefined without one. */
  oomKills(): number | undefined
  /** Forks and clones refused at the pids cap; undefined without a pids cgroup. */
  forksRefused(): number | undefined
}

function read(path: string | undefined): string | undefined {
  if (path === undefined) return undefined
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

function keyed(path: string | undefined, key: string): number | undefined {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(read(path) ?? '')
  return m?.[1] === undefined ? undefined : Number(m[1])
}

let located: CgroupCounters | undefined

/** The counters of the cgroup this process is in. */
export function cgroupCounters(): CgroupCounters {
  if (located) return located
  let cpu: (() => number | null) | undefined
  let memory: string | undefined
  let pids: string | undefined
  const v2root = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified'
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? []
    if (controllers === undefined || path === undefined) continue
    if (controllers === '') {
      const dir = `${v2root}${path === '/' ? '' : path}`
      if (!memory && existsSync(`${dir}/memory.events`)) memory = `${dir}/memory.events`
      if (!pids && existsSync(`${dir}/pids.events`)) pids = `${dir}/pids.events`
      // At '/' a process outside any sandbox cgroup would read the whole host's CPU.
      const stat = `${dir}/cpu.stat`
      if (path !== '/' && read(stat) !== undefined) {
        cpu = () => {
          const usec = keyed(stat, 'usage_usec')
          return usec === undefined ? null : usec / 1000
        }
      }
      continue
    }
    const list = controllers.split(',')
    if (list.includes('memory')) memory = `/sys/fs/cgroup/${controllers}${path}/memory.oom_control`
    if (list.includes('pids')) pids = `/sys/fs/cgroup/${controllers}${path}/pids.events`
    if (!cpu && list.includes('cpuacct') && path !== '/') {
      for (const dir of [controllers, 'cpuacct', 'cpu,cpuacct', 'cpuacct,cpu']) {
        const file = `/sys/fs/cgroup/${dir}${path}/cpuacct.usage`
        if (read(file) !== undefined) {
          cpu = () => Number(read(file)) / 1e6 || null
          break
        }
      }
    }
  }
  located = {
    cpuMs: cpu ?? (() => null),
    oomKills: () => keyed(memory, 'oom_kill'),
    forksRefused: () => keyed(pids, 'max'),
  }
  return located
}
