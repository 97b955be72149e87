import { describe, expect, it } from 'vitest'
import { usageFromRusage } from '../../src/cgroup/index.ts'
import { formatBytes, formatMs, formatUsageTable, toJson } from '../../src/report/format.ts'
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
