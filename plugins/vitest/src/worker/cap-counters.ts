/**
 * The sandbox's cgroup counters that say a cap was hit, read from inside
 * (the host's /sys/fs/cgroup is bound into the sandbox; /proc/self/cgroup
 * names our cgroup). Read before and after each test, so the test during
 * which a cap was hit fails, naming it, even when the worker survived (a
 * child OOM-killed, a fork refused).
 *
 *   memory: v2 memory.events `oom_kill`, v1 memory.oom_control `oom_kill`
 *   pids:   v2/v1 pids.events `max` (forks refused at the cap)
 */
import { existsSync, readFileSync } from 'node:fs'

export interface CapCounters {
  oomKills: number | undefined
  forksRefused: number | undefined
}

function keyed(path: string | undefined, key: string): number | undefined {
  if (!path) return undefined
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(path, 'utf8'))
    return m?.[1] === undefined ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

/** Locates the counter files once; `read()` is then two small reads. */
export function capCounterFiles(): { read(): CapCounters } {
  let memoryFile: string | undefined
  let pidsFile: string | undefined
  try {
    const v2root = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified'
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? []
      if (path === undefined || controllers === undefined) continue
      if (controllers === '') {
        const mem = `${v2root}${path}/memory.events`
        const pids = `${v2root}${path}/pids.events`
        if (!memoryFile && existsSync(mem)) memoryFile = mem
        if (!pidsFile && existsSync(pids)) pidsFile = pids
      } else {
        const list = controllers.split(',')
        if (list.includes('memory')) memoryFile = `/sys/fs/cgroup/${controllers}${path}/memory.oom_control`
        if (list.includes('pids')) pidsFile = `/sys/fs/cgroup/${controllers}${path}/pids.events`
      }
    }
  } catch {}
  return {
    read: () => ({ oomKills: keyed(memoryFile, 'oom_kill'), forksRefused: keyed(pidsFile, 'max') }),
  }
}
