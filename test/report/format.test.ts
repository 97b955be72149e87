import { describe, expect, it } from 'vitest'
import { usageFromRusage } from '../../src/cgroup/index.ts'
import {
  DEFAULT_COLUMNS,
  formatBytes,
  formatMs,
  formatTable,
  formatUsageHeadline,
  formatUsageTable,
  outputColour,
  outputColumns,
  toJson,
  wrapText,
} from '../../src/report/format.ts'
import { createRunReport, type FileReport, REPORT_VERSION, usageFields } from '../../src/report/schema.ts'

const MiB = 1024 ** 2

function file(over: Partial<FileReport>): FileReport {
  return {
    file: 'test/a.test.ts',
    wallMs: 1234,
    cpuUserMs: 800,
    cpuSystemMs: 200,
    memoryPeakBytes: 200 * MiB,
    memoryPeakIncludesCache: true,
    pidsPeak: 12,
    oomKills: 0,
    source: 'cgroup',
    capsEnforced: { memory: true, pids: true, cpu: false },
    leaked: [],
    tests: [],
    ...over,
  }
}

describe('formatBytes / formatMs', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1536)).toBe('1.50 KiB')
    expect(formatBytes(200 * MiB)).toBe('200 MiB')
    expect(formatBytes(12.5 * MiB)).toBe('12.5 MiB')
    expect(formatBytes(3 * 1024 ** 3)).toBe('3 GiB')
    expect(formatBytes(64 * MiB)).toBe('64 MiB')
    expect(formatBytes(2.25 * MiB)).toBe('2.25 MiB')
    expect(formatBytes(null)).toBe('–')
  })
  it('formats durations', () => {
    expect(formatMs(0.42)).toBe('0.42 ms')
    expect(formatMs(12.3)).toBe('12 ms')
    expect(formatMs(1234)).toBe('1.23 s')
    expect(formatMs(12_345)).toBe('12.3 s')
    expect(formatMs(125_000)).toBe('2m05s')
    expect(formatMs(null)).toBe('–')
  })
})

describe('createRunReport', () => {
  it('sums CPU and wall, takes the largest peak, counts OOMs, cap hits and leaks', () => {
    const r = createRunReport([
      file({}),
      file({
        file: 'b',
        cpuUserMs: null,
        cpuSystemMs: null,
        memoryPeakBytes: 300 * MiB,
        oomKills: 2,
        capHit: { cap: 'memory', limit: 128 * MiB, detail: '2 OOM kills' },
        leaked: [{ pid: 5, command: 'sleep 60', test: 'starts a server' }],
      }),
    ])
    expect(r.version).toBe(REPORT_VERSION)
    expect(r.totals).toEqual({
      files: 2,
      wallMs: 2468,
      cpuUserMs: 800,
      cpuSystemMs: 200,
      memoryPeakBytes: 300 * MiB,
      oomKills: 2,
      capHits: 1,
      leaked: 1,
    })
    expect(JSON.parse(toJson(r))).toEqual(r)
  })

  it('takes rusage figures as they are', () => {
    const f = usageFields(usageFromRusage({ utimeUs: 1_500_000, stimeUs: 250_000, maxrssKb: 51_200 }))
    expect(f).toEqual({
      cpuUserMs: 1500,
      cpuSystemMs: 250,
      memoryPeakBytes: 50 * MiB,
      memoryPeakIncludesCache: false,
      pidsPeak: null,
      oomKills: 0,
      source: 'rusage',
    })
  })
})

describe('formatUsageTable', () => {
  const report = createRunReport([
    file({
      tests: [
        { name: 'parses', wallMs: 10, cpuMs: 9 },
        { name: 'heavy', wallMs: 900, cpuMs: 850 },
        { name: 'unknown', wallMs: 1, cpuMs: null },
      ],
    }),
    file({
      file: 'test/b.test.ts',
      source: 'rusage',
      memoryPeakIncludesCache: false,
      pidsPeak: null,
      oomKills: 1,
      capHit: { cap: 'memory', limit: 128 * MiB, detail: '1 OOM kill' },
      leaked: [{ pid: 9, command: 'sleep 60' }],
      tests: [{ name: 'medium', wallMs: 100, cpuMs: 90 }],
    }),
  ])

  it('lists each file, totals, notes, then the heaviest tests by CPU', () => {
    const text = formatUsageTable(report, { heaviest: 2 })
    const lines = text.split('\n')
    const row = (s: string) => lines.find((l) => l.includes(s)) ?? ''
    expect(row('test/a.test.ts')).toMatch(/1\.23 s.*1\.00 s.*200 MiB\*.*12.*0.*memory,pids/)
    expect(row('test/b.test.ts')).toMatch(/200 MiB~.*–.*1!.*memory!,pids.*1/)
    expect(row('total (2 files)')).toMatch(/2\.47 s/)
    expect(text).toContain('* peak memory includes page cache')
    expect(text).toContain('~ largest single process (no cgroup)')
    const heavy = lines.findIndex((l) => l.includes('heavy'))
    const medium = lines.findIndex((l) => l.includes('medium'))
    expect(heavy).toBeGreaterThan(0)
    expect(medium).toBeGreaterThan(heavy)
    expect(text).not.toContain('parses') // only the 2 heaviest
    expect(text).not.toContain('\u001b[') // no colours
  })

  it('heaviest: 0 leaves the tests out', () => {
    expect(formatUsageTable(report, { heaviest: 0 })).not.toContain('heaviest')
  })
})

/** The widest line, in characters (the borders are one character each, three bytes in UTF-8). */
const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length))
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character of ANSI codes
const ESC = /\u001b\[/

describe('tables fit the width', () => {
  const longFile = 'test/integration/servers/http-proxy/upstream-unknown-host-returns-502.test.ts'
  const longTest =
    'proxy > upstream errors > answers 502 when the upstream host does not resolve, with the name in the body and no retry'
  const report = createRunReport(
    [
      file({ file: longFile, tests: [{ name: longTest, wallMs: 900, cpuMs: 850 }] }),
      file({
        file: 'test/b.test.ts',
        missingIsolation: { missing: 'namespaces', why: 'seccomp', code: 'ENS_SECCOMP_DENIED' },
        tests: [{ name: 'short', wallMs: 9, cpuMs: 8 }],
      }),
    ],
    [
      {
        file: 'test/dom/button.test.ts',
        reason: 'environment jsdom: not sandboxed, see docs/vitest.md#any-environment',
      },
    ],
  )

  it.each([80, 100, 120, 200])('at %i columns no line is wider, and every name is there in full', (columns) => {
    const text = formatUsageTable(report, { columns, colour: false })
    expect(widest(text)).toBeLessThanOrEqual(columns)
    // The wrapped pieces, joined again, give the names back.
    const cells = text
      .split('\n')
      .filter((l) => l.startsWith('│'))
      .map((l) => l.split('│')[1]?.trim() ?? '')
    const joined = cells.join('')
    expect(joined).toContain(longFile)
    expect(cells.join(' ').replace(/\s+/g, ' ')).toContain(`> ${longTest}`.split(' > ').at(-1))
  })

  it('a short table keeps its natural width', () => {
    const text = formatTable(['name', 'n'], [['a', '1']], { columns: 200, colour: false })
    expect(text.split('\n')[1]).toBe('│ name │ n │')
  })

  it('the width is the terminal’s, else COLUMNS, else 100', () => {
    expect(outputColumns({ isTTY: true, columns: 132 }, {})).toBe(132)
    expect(outputColumns({ isTTY: true, columns: 132 }, { COLUMNS: '90' })).toBe(132)
    expect(outputColumns({ isTTY: false }, { COLUMNS: '90' })).toBe(90)
    expect(outputColumns({ isTTY: false }, {})).toBe(DEFAULT_COLUMNS)
    expect(DEFAULT_COLUMNS).toBe(100)
  })

  it('wraps after a space, a slash or a `>`, and cuts only a word longer than the line', () => {
    expect(wrapText('a/bb/ccc/dddd', 6)).toEqual(['a/bb/', 'ccc/', 'dddd'])
    expect(wrapText('one two three', 8)).toEqual(['one two', 'three'])
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij'])
  })
})

describe('colours only on a terminal', () => {
  const report = createRunReport([file({ oomKills: 1, capHit: { cap: 'memory', limit: MiB, detail: '1 OOM kill' } })])

  it('decides from the stream and NO_COLOR / FORCE_COLOR', () => {
    const tty = { isTTY: true, hasColors: () => true }
    expect(outputColour({ isTTY: false }, {})).toBe(false)
    expect(outputColour(tty, {})).toBe(true)
    expect(outputColour({ isTTY: true, hasColors: () => false }, {})).toBe(false)
    expect(outputColour(tty, { NO_COLOR: '1' })).toBe(false)
    expect(outputColour(tty, { TERM: 'dumb' })).toBe(false)
    expect(outputColour({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true)
    expect(outputColour({ isTTY: false }, { FORCE_COLOR: '' })).toBe(true)
    expect(outputColour(tty, { FORCE_COLOR: '0' })).toBe(false)
    expect(outputColour(tty, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(true)
  })

  it('a table for a terminal is coloured (the cap hit red), one for a pipe is plain', () => {
    const coloured = formatUsageTable(report, { colour: true })
    expect(coloured).toMatch(ESC)
    expect(coloured).toContain('\u001b[31m1!\u001b[39m')
    expect(formatUsageTable(report, { colour: false })).not.toMatch(ESC)
    expect(formatUsageTable(report, { stream: { isTTY: false } })).not.toMatch(
      process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0' ? /^$/ : ESC,
    )
  })
})

describe('less isolation than asked is said', () => {
  it('a file without namespaces says so, and why, under its name', () => {
    const r = createRunReport([
      file({ file: 'test/a.test.ts' }),
      file({
        file: 'test/b.test.ts',
        missingIsolation: { missing: 'namespaces', why: 'seccomp', code: 'ENS_SECCOMP_DENIED' },
      }),
    ])
    const lines = formatUsageTable(r, { colour: false, columns: 120 }).split('\n')
    const b = lines.findIndex((l) => l.includes('test/b.test.ts'))
    expect(lines[b + 1]).toMatch(/│ no namespaces \(seccomp\)\s+│/)
    expect(lines.filter((l) => l.includes('no namespaces'))).toHaveLength(1)
    expect(formatUsageHeadline(r)).toBe('ns-isolated usage (1 sandboxed file, 1 without namespaces)')
  })

  it('files run without a sandbox are listed by reason, and counted in the headline and totals', () => {
    const jsdom = 'environment jsdom: not sandboxed, see docs/vitest.md#any-environment'
    const r = createRunReport(
      [file({})],
      [
        { file: 'test/b.dom.ts', reason: jsdom },
        { file: 'test/a.dom.ts', reason: jsdom },
        { file: 'test/c.ts', reason: 'pool vmThreads: not sandboxed', project: 'vm' },
      ],
    )
    expect(r.totals.unsandboxed).toBe(3)
    expect(formatUsageHeadline(r)).toBe('ns-isolated usage (1 sandboxed file, 3 not sandboxed)')
    const text = formatUsageTable(r, { colour: false })
    expect(text).toContain(
      [
        'not sandboxed: 3 files',
        `  ${jsdom}`,
        '    test/a.dom.ts',
        '    test/b.dom.ts',
        '  pool vmThreads: not sandboxed',
        '    vm > test/c.ts',
      ].join('\n'),
    )
  })

  it('a report without the list has no unsandboxed key (the JSON of other front doors is unchanged)', () => {
    const r = createRunReport([file({})])
    expect('unsandboxed' in r).toBe(false)
    expect('unsandboxed' in r.totals).toBe(false)
  })
})
