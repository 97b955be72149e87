/**
 * Turning kernel files into `CgroupUsage`. Pure parsers, shared by the v1
 * and v2 drivers and by the rusage fallback.
 */
import type { CgroupUsage } from './types.ts'

/** `key value` lines (cpu.stat, memory.events, memory.oom_control, cpuacct.stat) → the value of `key`. */
export function keyedValue(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text)
  return m?.[1] === undefined ? undefined : Number(m[1])
}

/** A file holding one number (`memory.peak`, `pids.peak`, `cpuacct.usage_user`). `max` and garbage → undefined. */
export function singleValue(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text.trim())
  return text.trim() !== '' && Number.isFinite(n) ? n : undefined
}

/** USER_HZ: the unit of cpuacct.stat. It is 100 on every Linux architecture Node runs on. */
export const USER_HZ = 100

/** Figures when nothing is known (a cgroup could not be made and no rusage has come yet). */
export function unknownUsage(): CgroupUsage {
  return {
    cpuUserMs: null,
    cpuSystemMs: null,
    memoryPeakBytes: null,
    memoryPeakIncludesCache: false,
    pidsPeak: null,
    oomKills: 0,
    source: 'rusage',
  }
}

/**
 * Figures when no cgroup exists, from the launcher's getrusage(RUSAGE_CHILDREN)
 * of PID 1 after it reaped everything. CPU is exact for every reaped
 * descendant; `maxrss` is the peak RSS of the largest single process (not the
 * tree's sum, no page cache); pids peak and OOM kills are unknown.
 */
export function usageFromRusage(r: { utimeUs: number; stimeUs: number; maxrssKb: number }): CgroupUsage {
  return {
    cpuUserMs: r.utimeUs / 1000,
    cpuSystemMs: r.stimeUs / 1000,
    memoryPeakBytes: r.maxrssKb * 1024,
    memoryPeakIncludesCache: false,
    pidsPeak: null,
    oomKills: 0,
    source: 'rusage',
  }
}
