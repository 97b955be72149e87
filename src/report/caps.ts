/**
 * Which caps a sandbox ran into, and how every front door says so: the
 * file's (or function's, or command's) hit from its sandbox's figures, a
 * test's from the cgroup's counters read around it, and the one message
 * shape. Loads nothing: the trackers inside sandboxes use it too.
 */
import type { CapHit } from './schema.ts'
import { formatBytes } from './units.ts'

/** The caps in force, as a sandbox's `caps.limits`. */
export interface CapLimits {
  memory?: number | undefined
  pids?: number | undefined
}

/** The figures a hit is read from: a whole sandbox's, or a file's deltas in a shared one. */
export interface CapFigures {
  oomKills: number
  pidsPeak: number | null
  memoryPeakBytes?: number | null
}

function plural(n: number, one: string, many = `${one}es`): string {
  return `${n} ${n === 1 ? one : many}`
}

/**
 * The caps hit, memory first (an OOM kill explains a dead worker better than
 * a pids peak): memory when the kernel OOM-killed a process, pids when the
 * peak reached the cap, tmpfs when the sandbox's tmpfs filled up.
 */
export function capsHit(
  limits: CapLimits,
  figures: CapFigures,
  tmpfs: { sizeBytes: number; usedBytes: number } | null = null,
): CapHit[] {
  const hit: CapHit[] = []
  if (limits.memory !== undefined && figures.oomKills > 0) {
    const peak = figures.memoryPeakBytes ? ` (peak ${formatBytes(figures.memoryPeakBytes)})` : ''
    hit.push({
      cap: 'memory',
      limit: limits.memory,
      detail: `exceeded memory cap ${formatBytes(limits.memory)}: ${plural(figures.oomKills, 'process')} OOM-killed${peak}`,
    })
  }
  if (limits.pids !== undefined && figures.pidsPeak !== null && figures.pidsPeak >= limits.pids) {
    hit.push({
      cap: 'pids',
      limit: limits.pids,
      detail: `reached pids cap ${limits.pids}: further fork/clone calls failed (EAGAIN)`,
    })
  }
  // Full to the last few blocks: a write failed with ENOSPC (or would have).
  if (tmpfs && tmpfs.sizeBytes > 0 && tmpfs.sizeBytes - tmpfs.usedBytes < Math.max(65536, tmpfs.sizeBytes / 1000)) {
    hit.push({
      cap: 'tmpfs',
      limit: tmpfs.sizeBytes,
      detail: `filled its tmpfs (${formatBytes(tmpfs.sizeBytes)} for the copy-on-write root's changes, /tmp and /dev/shm): writes failed with ENOSPC`,
    })
  }
  return hit
}

/** The cgroup counters that say a cap was hit, read before and after a test (src/sandbox/cgroup.ts). */
export interface CapCounters {
  oomKills: number | undefined
  forksRefused: number | undefined
}

/** The caps hit while a test ran: a child OOM-killed, a fork refused at the pids cap (the worker may have survived both). */
export function testCapsHit(limits: CapLimits, before: CapCounters, after: CapCounters): CapHit[] {
  const hit: CapHit[] = []
  const oom = (after.oomKills ?? 0) - (before.oomKills ?? 0)
  if (limits.memory !== undefined && oom > 0) {
    hit.push({
      cap: 'memory',
      limit: limits.memory,
      detail: `exceeded memory cap ${formatBytes(limits.memory)}: OOM-killed (${plural(oom, 'process')} of this test killed by the kernel)`,
    })
  }
  const refused = (after.forksRefused ?? 0) - (before.forksRefused ?? 0)
  if (limits.pids !== undefined && refused > 0) {
    hit.push({
      cap: 'pids',
      limit: limits.pids,
      detail: `exceeded pids cap ${limits.pids}: fork refused ${plural(refused, 'time', 'times')} (the cap counts processes and threads)`,
    })
  }
  return hit
}

/** `ns-isolated: test file a.spec.ts exceeded memory cap 128 MiB: 1 process OOM-killed. Raise …` */
export function capHitMessage(subject: string, hit: CapHit, fix: string): string {
  return `ns-isolated: ${subject} ${hit.detail}.${fix ? ` ${fix}` : ''}`
}
