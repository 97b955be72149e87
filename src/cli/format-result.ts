/** The short human report `ns-isolated run` prints to stderr. */
import type { SandboxResult } from '../host/prepare.ts'

export function formatRunReport(r: SandboxResult): string {
  const lines: string[] = []
  const end = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`
  const cpu = r.rusage ? `, cpu ${(r.rusage.cpuUserMs + r.rusage.cpuSystemMs).toFixed(0)} ms` : ''
  const rss = r.rusage ? `, max rss ${(r.rusage.maxRssBytes / 2 ** 20).toFixed(1)} MiB` : ''
  lines.push(`ns-isolated: ${end} in ${r.wallMs.toFixed(0)} ms${cpu}${rss} (host ${r.hostname}, network ${r.network}, ${r.strategy})`)
  if (!r.leaksKnown) lines.push('  leaked processes: unknown (the sandbox was killed from outside)')
  else if (r.leaked.length) {
    lines.push(`  leaked ${r.leaked.length} process${r.leaked.length === 1 ? '' : 'es'} (killed):`)
    for (const l of r.leaked) lines.push(`    pid ${l.pid}: ${l.command}`)
  }
  if (r.writes.length) {
    lines.push(`  wrote ${r.writes.length}${r.writesTruncated ? '+' : ''} path${r.writes.length === 1 ? '' : 's'} outside /tmp (discarded):`)
    for (const w of r.writes.slice(0, 20)) lines.push(`    ${w.kind === 'deleted' ? 'deleted ' : ''}${w.path}`)
    if (r.writes.length > 20) lines.push(`    … and ${r.writes.length - 20} more (--json lists them all)`)
  }
  for (const d of r.degraded) lines.push(`  note: ${d}`)
  return `${lines.join('\n')}\n`
}
