/**
 * Human and JSON output of a usage report: a compact table per file, then
 * the heaviest tests by CPU, then the files that ran without a sandbox.
 * Tables fit the output's width (names wrap), and are coloured only where
 * the output is a terminal that shows colours (`NO_COLOR`, `FORCE_COLOR`
 * as usual). The same table drawing serves the CLI's own tables.
 */
import { createRequire } from 'node:module'
import { styleText } from 'node:util'
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

/** The width a table gets when the output is not a terminal and `COLUMNS` is not set. */
export const DEFAULT_COLUMNS = 100

/** What the drawing needs to know of the stream a table goes to (a `tty.WriteStream`, or any stream). */
export interface OutputStream {
  isTTY?: boolean
  columns?: number
  hasColors?(): boolean
}

/** The width to fit: the terminal's, else `COLUMNS`, else {@link DEFAULT_COLUMNS}. */
export function outputColumns(stream: OutputStream = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  if (stream.isTTY && stream.columns !== undefined && stream.columns > 0) return stream.columns
  const fromEnv = Number(env.COLUMNS)
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv
  return DEFAULT_COLUMNS
}

/**
 * Whether to colour: `FORCE_COLOR` (but `0`/`false`) forces it, `NO_COLOR`
 * or `NODE_DISABLE_COLORS` (non-empty) refuse it, else only a terminal that
 * has colours (`TERM=dumb` has none).
 */
export function outputColour(stream: OutputStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR
  if (force !== undefined) return force !== '0' && force !== 'false'
  if (env.NO_COLOR || env.NODE_DISABLE_COLORS) return false
  if (!stream.isTTY || env.TERM === 'dumb') return false
  return stream.hasColors?.() ?? true
}

/** The report as JSON text (stable key order: the schema's). */
export function toJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

// ---- tables that fit

/** A style for a cell: what needs a look (`red`: a cap hit, `yellow`: less isolation than asked). */
export type CellStyle = 'bold' | 'dim' | 'red' | 'yellow'
/** A cell: its text, and a style used only when colouring. */
export type Cell = string | { text: string; style?: CellStyle }

export interface TableOptions {
  /** Per column; default left. */
  align?: ('left' | 'right')[]
  /** The columns whose text wraps to fit the width (names); default the first. */
  wrap?: number[]
  /** The width to fit; default {@link outputColumns} of `stream`. */
  columns?: number
  /** ANSI colours; default {@link outputColour} of `stream`. */
  colour?: boolean
  /** Where the table goes (its width, whether it is a terminal); default process.stdout. */
  stream?: OutputStream
  /** No rule between rows (the usage tables). Default true. */
  compact?: boolean
}

const textOf = (c: Cell): string => (typeof c === 'string' ? c : c.text)
/** Display width (the texts here are plain: no colour codes before drawing, no wide characters). */
const widthOf = (s: string): number => Math.max(0, ...s.split('\n').map((l) => [...l].length))

/**
 * `text` in lines of at most `width` characters: broken after the last
 * space, `/` or `>` that falls in the line, else cut.
 */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width)
  const out: string[] = []
  for (const line of text.split('\n')) {
    let rest = [...line]
    while (rest.length > w) {
      let cut = -1
      for (let i = w; i > 0; i--) {
        const c = rest[i - 1]
        if (c === ' ' || c === '/' || c === '>') {
          cut = i
          break
        }
      }
      if (cut <= 0) cut = w
      out.push(rest.slice(0, cut).join('').trimEnd())
      rest = rest.slice(cut)
      while (rest[0] === ' ') rest.shift()
    }
    out.push(rest.join(''))
  }
  return out
}

/**
 * Draws a table that fits `columns`: the other columns at their natural
 * width, the `wrap` columns sharing what is left (each at least 12
 * characters and its heading, so a very narrow terminal gets a wider table
 * rather than an unreadable one).
 */
export function formatTable(head: string[], rows: Cell[][], options: TableOptions = {}): string {
  const stream = options.stream ?? process.stdout
  const columns = options.columns ?? outputColumns(stream)
  const colour = options.colour ?? outputColour(stream)
  const wrap = options.wrap ?? [0]
  const align = options.align ?? []
  const n = head.length
  // Each cell pads one space either side; n + 1 borders.
  const natural = head.map((h, i) => Math.max(widthOf(h), ...rows.map((r) => widthOf(textOf(r[i] ?? '')))) + 2)
  const fixed = natural.reduce((a, w, i) => a + (wrap.includes(i) ? 0 : w), 0)
  let room = columns - fixed - (n + 1)
  const wanted = wrap.reduce((a, i) => a + (natural[i] ?? 0), 0)
  const widths = natural.slice()
  if (wanted > room) {
    // Shared in proportion to what each wants; the last takes the rounding.
    const order = wrap.slice().sort((a, b) => (natural[a] ?? 0) - (natural[b] ?? 0))
    let left = wanted
    for (const i of order) {
      const least = Math.max(12, widthOf(head[i] ?? '') + 2)
      const share = Math.max(least, Math.min(natural[i] ?? 0, Math.floor((room * (natural[i] ?? 0)) / left)))
      left -= natural[i] ?? 0
      room -= share
      widths[i] = share
    }
  }
  const paint = (text: string, style: CellStyle | undefined): string => {
    if (!colour || !style || text === '') return text
    return text
      .split('\n')
      .map((l) => styleText(style, l, { validateStream: false }))
      .join('\n')
  }
  const cell = (c: Cell, i: number): string => {
    const text = wrap.includes(i) ? wrapText(textOf(c), (widths[i] ?? 3) - 2).join('\n') : textOf(c)
    return paint(text, typeof c === 'string' ? undefined : c.style)
  }
  const T = tableClass()
  const table = new T({
    head: head.map((h) => paint(h, 'bold')),
    colAligns: head.map((_, i) => align[i] ?? 'left'),
    colWidths: widths,
    style: { head: [], border: [], compact: options.compact ?? true, 'padding-left': 1, 'padding-right': 1 },
  })
  for (const r of rows) table.push(head.map((_, i) => cell(r[i] ?? '', i)))
  return table.toString()
}

// ---- the usage report

function cpuOf(f: Pick<FileReport, 'cpuUserMs' | 'cpuSystemMs'>): number | null {
  if (f.cpuUserMs === null && f.cpuSystemMs === null) return null
  return (f.cpuUserMs ?? 0) + (f.cpuSystemMs ?? 0)
}

/** Enforced caps, the one hit marked `!`: `memory!,pids`. */
function caps(f: FileReport): Cell {
  const on = (['memory', 'pids', 'cpu'] as const).filter((c) => f.capsEnforced[c] || f.capHit?.cap === c)
  if (on.length === 0) return DASH
  const text = on.map((c) => (f.capHit?.cap === c ? `${c}!` : c)).join(',')
  return f.capHit ? { text, style: 'red' } : text
}

/** `no namespaces (seccomp)`: what a file ran without, for its row. */
export function describeMissingIsolation(f: Pick<FileReport, 'missingIsolation'>): string {
  return f.missingIsolation ? `no ${f.missingIsolation.missing} (${f.missingIsolation.why})` : 'full'
}

/**
 * The line above the table: `ns-isolated usage (28 sandboxed files, 2
 * without namespaces, 27 not sandboxed)`.
 */
export function formatUsageHeadline(report: RunReport): string {
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
  const reduced = report.files.filter((f) => f.missingIsolation).length
  const parts = [plural(report.files.length - reduced, 'sandboxed file')]
  if (reduced > 0) parts.push(`${reduced} without namespaces`)
  const unsandboxed = report.unsandboxed?.length ?? 0
  if (unsandboxed > 0) parts.push(`${unsandboxed} not sandboxed`)
  return `ns-isolated usage (${parts.join(', ')})`
}

export interface UsageTableOptions {
  /** How many of the heaviest tests (by CPU) to list after the files. Default 5; 0 for none. */
  heaviest?: number
  /** The width to fit; default the stream's (a terminal's), else `COLUMNS`, else 100. */
  columns?: number
  /** ANSI colours; default only for a terminal that has them (`NO_COLOR`, `FORCE_COLOR` honoured). */
  colour?: boolean
  /** Where the table goes; default process.stdout. */
  stream?: OutputStream
}

/**
 * A compact table: one row per file (wall, CPU, peak memory, peak pids, OOM
 * kills, caps with the one hit marked `!`, leaks; under the file's name,
 * what isolation it ran without, if any), a totals row, then the N heaviest
 * tests by CPU, then the files that ran without a sandbox, by reason.
 * Peak memory marked `*` includes page cache; `~` marks rusage figures
 * (largest single process).
 */
export function formatUsageTable(report: RunReport, options: UsageTableOptions = {}): string {
  const heaviest = options.heaviest ?? 5
  const drawing: TableOptions = {
    ...(options.columns !== undefined ? { columns: options.columns } : {}),
    ...(options.colour !== undefined ? { colour: options.colour } : {}),
    ...(options.stream !== undefined ? { stream: options.stream } : {}),
  }
  const columns = options.columns ?? outputColumns(options.stream)
  const colour = options.colour ?? outputColour(options.stream)
  const head = ['file', 'wall', 'cpu', 'peak mem', 'pids', 'oom', 'caps', 'leaked']
  const align: ('left' | 'right')[] = ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'right']
  const rows: Cell[][] = []
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
    const row: Cell[] = [
      // What a file ran without is said on its row, under its name.
      f.missingIsolation ? { text: `${f.file}\n${describeMissingIsolation(f)}`, style: 'yellow' } : f.file,
      formatMs(f.wallMs),
      formatMs(cpuOf(f)),
      mem,
      f.pidsPeak === null ? DASH : String(f.pidsPeak),
      f.oomKills === 0 ? '0' : { text: `${f.oomKills}!`, style: 'red' },
      caps(f),
      f.leaksUnknown
        ? { text: `${f.leaked.length}?`, style: 'yellow' }
        : f.leaked.length === 0
          ? '0'
          : { text: String(f.leaked.length), style: 'yellow' },
    ]
    rows.push(row)
  }
  const t = report.totals
  if (report.files.length > 1) {
    const row: Cell[] = [
      `total (${t.files} files)`,
      formatMs(t.wallMs),
      formatMs(cpuOf(t)),
      formatBytes(t.memoryPeakBytes),
      '',
      String(t.oomKills),
      t.capHits > 0 ? `${t.capHits} hit` : '',
      report.files.some((f) => f.leaksUnknown) ? `${t.leaked}?` : String(t.leaked),
    ]
    rows.push(row)
  }
  const parts: string[] = []
  if (rows.length > 0) parts.push(formatTable(head, rows, { ...drawing, align }))
  const notes: string[] = []
  if (cacheNote) notes.push('* peak memory includes page cache')
  if (rusageNote) notes.push('~ largest single process (no cgroup)')
  const unknown = report.files.find((f) => f.leaksUnknown)
  if (unknown) notes.push(`? leaks not all known: ${unknown.leaksUnknown}`)
  if (notes.length > 0) parts.push(wrapText(notes.join('; '), columns).join('\n'))

  if (heaviest > 0) {
    const tests = report.files
      .flatMap((f) => f.tests.map((test) => ({ file: f.file, test })))
      .filter((x) => x.test.cpuMs !== null)
      .sort((a, b) => (b.test.cpuMs ?? 0) - (a.test.cpuMs ?? 0))
      .slice(0, heaviest)
    if (tests.length > 0) {
      // A test with a sandbox of its own has exact figures; the others' CPU is approximate (≈).
      const someExact = tests.some((x) => x.test.exact)
      const cpu = (t: (typeof tests)[number]['test']) => `${someExact && !t.exact ? '≈ ' : ''}${formatMs(t.cpuMs)}`
      parts.push(
        formatTable(
          ['heaviest tests', someExact ? 'cpu' : 'cpu ≈', 'wall'],
          tests.map(({ file, test }) => [`${file} > ${test.name}`, cpu(test), formatMs(test.wallMs)]),
          { ...drawing, align: ['left', 'right', 'right'] },
        ),
      )
    }
  }
  if (report.unsandboxed && report.unsandboxed.length > 0) {
    parts.push(formatUnsandboxed(report.unsandboxed, columns, colour))
  }
  return `${parts.join('\n')}\n`
}

/** The files that ran without a sandbox, grouped by reason (the largest group first), one file a line. */
function formatUnsandboxed(files: NonNullable<RunReport['unsandboxed']>, columns: number, colour: boolean): string {
  const byReason = new Map<string, string[]>()
  for (const f of files) {
    const name = f.project ? `${f.project} > ${f.file}` : f.file
    byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), name])
  }
  const title = `not sandboxed: ${files.length} file${files.length === 1 ? '' : 's'}`
  const lines = [colour ? styleText('yellow', title, { validateStream: false }) : title]
  // The largest group first, so the common reason leads.
  const groups = [...byReason].sort(([a, x], [b, y]) => y.length - x.length || a.localeCompare(b))
  for (const [reason, names] of groups) {
    lines.push(...wrapText(reason, columns - 2).map((l) => `  ${l}`))
    for (const name of names.sort()) lines.push(...wrapText(name, columns - 4).map((l) => `    ${l}`))
  }
  return lines.join('\n')
}
