/**
 * Host side: the usage figures of one isolated call, from the sandbox's
 * result — the same figures the runners report per file (cgroup where there
 * is one, else getrusage of the whole tree; see src/report/schema.ts).
 */
import type { SandboxResult } from '../host/prepare.ts'
import { formatBytes } from '../report/units.ts'
import type { IsolateCapHit, IsolateUsage } from './types.ts'

export function toUsage(r: SandboxResult, wallMs = r.wallMs): IsolateUsage {
  const usage: IsolateUsage = {
    wallMs,
    cpuUserMs: r.usage.cpuUserMs,
    cpuSystemMs: r.usage.cpuSystemMs,
    memoryPeakBytes: r.usage.memoryPeakBytes,
    memoryPeakIncludesCache: r.usage.memoryPeakIncludesCache,
    pidsPeak: r.usage.pidsPeak,
    oomKills: r.usage.oomKills,
    source: r.usage.source,
    capsEnforced: { ...r.caps.enforced },
    leaked: r.leaked,
    leaksKnown: r.leaksKnown,
    writes: r.writes,
    writesTruncated: r.writesTruncated,
    hostname: r.hostname,
    strategy: r.strategy,
  }
  const hit = capHit(r)
  if (hit) usage.capHit = hit
  return usage
}

/**
 * Which cap was hit: the core's answer (memory first). Without cgroup
 * figures, the function's process killed by SIGKILL while a memory cap was
 * asked is what the OOM killer does.
 */
function capHit(r: SandboxResult): IsolateCapHit | undefined {
  const [hit] = r.caps.hit
  if (hit) return { cap: hit.cap, limit: hit.limit, detail: hit.detail }
  const memory = r.caps.limits.memory
  if (memory !== undefined && r.usage.source === 'rusage' && r.signal === 'SIGKILL') {
    return {
      cap: 'memory',
      limit: memory,
      detail: `exceeded memory cap ${formatBytes(memory)}: the function's process was killed by SIGKILL (the OOM killer)`,
    }
  }
  return undefined
}
