// `jest --shard=i/n` isolated, and one usage report for the whole sharded
// run: each shard writes its own (`{shard}` in the json path), and
// `ns-isolated report merge` joins them.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { dist, pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { output, type Project, project, runJest, type UsageReport } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const merge = (q: Project, args: string[]) =>
  spawnSync(process.execPath, [dist('cli/main.js'), 'report', 'merge', ...args], { cwd: q.dir, encoding: 'utf8' })

describe('jest: sharded runs', () => {
  it('two shards, each isolated, merged into one usage report', async () => {
    p = project('shards')
    const marker = uniqueSleep()
    for (const shard of ['1/2', '2/2']) {
      const r = await runJest(p, [`--shard=${shard}`], { SLEEP_MARKER: marker })
      expect(r.code, output(r)).toBe(0)
      expect(r.results.numPassedTests).toBe(4)
    }
    expect(pidsWithMarker(marker)).toEqual([])
    const shards = ['usage-1-2.json', 'usage-2-2.json'].map(
      (f) => JSON.parse(readFileSync(join(p?.dir as string, f), 'utf8')) as UsageReport & { shard: unknown },
    )
    expect(shards.map((s) => s.shard)).toEqual([
      { index: 1, count: 2 },
      { index: 2, count: 2 },
    ])
    expect(shards.map((s) => s.files.length)).toEqual([2, 2])

    const m = merge(p, ['--table', 'usage-1-2.json', 'usage-2-2.json'])
    expect(m.status, m.stderr).toBe(0)
    const merged = JSON.parse(m.stdout) as UsageReport & { shards: number }
    expect(merged.files.map((f) => f.file)).toEqual(['f1.test.js', 'f2.test.js', 'f3.test.js', 'f4.test.js'])
    expect(merged.totals).toMatchObject({ files: 4, leaked: 4 })
    expect(merged.shards).toBe(2)
    expect(m.stderr).toMatch(/total \(4 files\)/)
  })

  it('refuses what is not one whole sharded run, naming the file', async () => {
    p = project('shards')
    const r = await runJest(p, ['--shard=1/2'], { SLEEP_MARKER: uniqueSleep() })
    expect(r.code, output(r)).toBe(0)
    p.write('broken.json', '{ "version": 1, "files": [')
    p.write('other.json', '{ "hello": "world" }')
    p.write('v9.json', '{ "version": 9, "files": [] }')
    const cases: [string[], RegExp][] = [
      [['usage-1-2.json'], /shard 2\/2 missing: give every shard's report, or --partial/],
      [['usage-1-2.json', 'usage-1-2.json'], /shard 1\/2 is there twice: usage-1-2\.json and usage-1-2\.json/],
      [['broken.json'], /broken\.json is not JSON/],
      [['other.json'], /other\.json is not an ns-isolated usage report/],
      [['v9.json'], /v9\.json is a version 9 report; this ns-isolated reads version 1/],
      [['missing.json'], /cannot read missing\.json \(ENOENT\)/],
    ]
    for (const [args, message] of cases) {
      const m = merge(p, args)
      expect(m.status, `${args}: ${m.stderr}`).toBe(2)
      expect(m.stderr).toMatch(message)
    }
    const partial = merge(p, ['--partial', 'usage-1-2.json'])
    expect(partial.status, partial.stderr).toBe(0)
    expect((JSON.parse(partial.stdout) as UsageReport).files).toHaveLength(2)
  })
})
