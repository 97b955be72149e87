/** The short human report `ns-isolated run` prints to stderr. */
import type { SandboxResult } from '../host/prepare.ts'
import { formatBytes, formatMs } from '../report/format.ts'
import { LEAKS_UNKNOWN } from '../report/from-result.ts'

export function formatRunReport(r: SandboxResult): string {
  const lines: string[] = []
  const end = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`
  const u = r.usage
  const cpu = u.cpuUserMs !== null && u.cpuSystemMs !== null ? `, cpu ${formatMs(u.cpuUserMs + u.cpuSystemMs)}` : ''
  const mem =
    u.memoryPeakBytes !== null
      ? `, peak memory ${formatBytes(u.memoryPeakBytes)}${u.source === 'rusage' ? ' (largest process)' : ''}`
      : ''
  const pids = u.pidsPeak !== null ? `, peak pids ${u.pidsPeak}` : ''
  const where = r.namespaces
    ? `host ${r.hostname}, network ${r.network}, ${r.strategy}`
    : 'no namespaces: the host’s files, network and processes; leaks still killed'
  lines.push(`ns-isolated: ${end} in ${formatMs(r.wallMs)}${cpu}${mem}${pids} (${where})`)
  const caps = Object.entries(r.caps.limits)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${k} ${k === 'memory' ? formatBytes(v as number) : v}${r.caps.enforced[k as 'memory'] ? '' : ' (NOT enforced)'}`,
    )
  if (caps.length) lines.push(`  caps: ${caps.join(', ')}`)
  for (const h of r.caps.hit) lines.push(`  CAP HIT: ${h.detail}`)
  if (u.oomKills > 0 && !r.caps.hit.some((h) => h.cap === 'memory')) lines.push(`  OOM kills: ${u.oomKills}`)
  if (!r.leaksKnown) lines.push(`  leaked processes: unknown: ${LEAKS_UNKNOWN}`)
  else if (r.leaked.length) {
    const n = `${r.leaked.length}${r.leaksTruncated ? '+' : ''}`
    lines.push(`  leaked ${n} process${r.leaked.length === 1 ? '' : 'es'} (all killed):`)
    for (const l of r.leaked.slice(0, 20)) lines.push(`    pid ${l.pid}: ${l.command}`)
    if (r.leaked.length > 20 || r.leaksTruncated) {
      lines.push(`    … and ${r.leaksTruncated ? 'more' : r.leaked.length - 20} (--json lists ${r.leaked.length})`)
    }
  }
  if (!r.writesKnown && r.leaksKnown && r.namespaces) lines.push('  writes: unknown (PID 1 could not list them)')
  if (r.tmpfs) {
    const full = r.caps.hit.some((h) => h.cap === 'tmpfs')
    if (!full && r.tmpfs.usedBytes > r.tmpfs.sizeBytes / 2) {
      lines.push(`  tmpfs: ${formatBytes(r.tmpfs.usedBytes)} of ${formatBytes(r.tmpfs.sizeBytes)} used`)
    }
  }
  if (r.writes.length) {
    lines.push(
      `  wrote ${r.writes.length}${r.writesTruncated ? '+' : ''} path${r.writes.length === 1 ? '' : 's'} outside /tmp (discarded):`,
    )
    for (const w of r.writes.slice(0, 20)) lines.push(`    ${w.kind === 'deleted' ? 'deleted ' : ''}${w.path}`)
    if (r.writes.length > 20) lines.push(`    … and ${r.writes.length - 20} more (--json lists them all)`)
  }
  for (const d of r.degraded) lines.push(`  note: ${d}`)
  return `${lines.join('\n')}\n`
}
