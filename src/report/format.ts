/**
 * Human and JSON output of a usage report: a compact table per file, then
 * the heaviest tests by CPU. Plain text (no colours): front doors colour it
 * if they want to.
 */
import { createRequire } from 'node:module'
import type Table from 'cli-table3'
import type { FileReport, RunReport } from './schema.ts'
import { DASH, formatBytes, formatMs } from './units.ts'

export { formatBytes, formatMs }

type TableConstructor = typeof Table
let TableClass: TableConstructor | undefined
/** cli-table3 and its dependencies (11 modules) load when a table is drawn, not with the core. */
function tableClass(): TableConstructor {
  TableClass ??= createRequire(import.meta.url)('cli-table3') as TableConstructor
  return TableClass
}

/** The report as JSON text (stable key order: the schema's). */
export function toJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

function cpuOf(f: Pick<FileReport, 'cpuUserMs' | 'cpuSystemMs'>): number | null {
  if (f.cpuUserMs === null && f.cpuSystemMs === null) return null
  return (f.cpuUserMs ?? 0) + (f.cpuSystemMs ?? 0)
}

/** Enforced caps, the one hit marked `!`: `memory!,pids`. */
function caps(f: FileReport): string {
  const on = (['memory', 'pids', 'cpu'] as const).filter((c) => f.capsEnforced[c] || f.capHit?.cap === c)
  return on.length === 0 ? DASH : on.map((c) => (f.capHit?.cap === c ? `${c}!` : c)).join(',')
}

function compactTable(head: string[], colAligns: ('left' | 'right')[]): Table.Table {
  const T = tableClass()
  return new T({
    head,
    colAligns,
    style: { head: [], border: [], compact: true, 'padding-left': 1, 'padding-right': 1 },
  })
}

export interface UsageTableOptions {
  /** How many of the heaviest tests (by CPU) to list after the files. Default 5; 0 for none. */
  heaviest?: number
}

/**
 * A compact table: one row per file (wall, CPU, peak memory, peak pids, OOM
 * kills, caps with the one hit marked `!`, leaks), a totals row, then the N
 * heaviest tests by CPU.
 * Peak memory marked `*` includes page cache; `~` marks rusage figures
 * (largest single process).
 */
export function formatUsageTable(report: RunReport, options: UsageTableOptions = {}): string {
  const heaviest = options.heaviest ?? 5
  const files = compactTable(
    ['file', 'wall', 'cpu', 'peak mem', 'pids', 'oom', 'caps', 'leaked'],
    ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'right'],
  )
  let cacheNote = false
  let rusageNote = false
  for (const f of report.files) {
    let mem = formatBytes(f.memoryPeakBytes)
    if (f.memoryPeakBytes !== null && f.memoryPeakIncludesCache) {
      mem += '*'
      cacheNote = true
    } else if (f.memoryPeakBytes !== null && f.source === 'rusage') {
      mem += '~'
      rusageNote = true
    }
    files.push([
      f.file,
      formatMs(f.wallMs),
      formatMs(cpuOf(f)),
      mem,
      f.pidsPeak === null ? DASH : String(f.pidsPeak),
      f.oomKills === 0 ? '0' : `${f.oomKills}!`,
      caps(f),
      String(f.leaked.length),
    ])
  }
  const t = report.totals
  if (report.files.length > 1) {
    files.push([
      `total (${t.files} files)`,
      formatMs(t.wallMs),
      formatMs(cpuOf(t)),
      formatBytes(t.memoryPeakBytes),
      '',
      String(t.oomKills),
      t.capHits > 0 ? `${t.capHits} hit` : '',
      String(t.leaked),
    ])
  }
  const parts = [files.toString()]
  const notes: string[] = []
  if (cacheNote) notes.push('* peak memory includes page cache')
  if (rusageNote) notes.push('~ largest single process (no cgroup)')
  if (notes.length > 0) parts.push(notes.join('; '))

  if (heaviest > 0) {
    const tests = report.files
      .flatMap((f) => f.tests.map((test) => ({ file: f.file, test })))
      .filter((x) => x.test.cpuMs !== null)
      .sort((a, b) => (b.test.cpuMs ?? 0) - (a.test.cpuMs ?? 0))
      .slice(0, heaviest)
    if (tests.length > 0) {
      const table = compactTable(['heaviest tests', 'cpu ≈', 'wall'], ['left', 'right', 'right'])
      for (const { file, test } of tests)
        table.push([`${file} > ${test.name}`, formatMs(test.cpuMs), formatMs(test.wallMs)])
      parts.push(table.toString())
    }
  }
  return `${parts.join('\n')}\n`
}
