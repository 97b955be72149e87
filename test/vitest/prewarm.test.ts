/**
 * `prewarm`: the next file's worker is booted while the current file runs.
 * Proven on real runs: files adopt spares, every file still has a sandbox of
 * its own (its own hostname), a file with other options boots its own, and
 * no spare's process or cgroup outlives the run.
 */
import { existsSync, readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { afterEach, describe, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const fact = (name: string, docblock = '') => `${docblock}
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { test } from 'vitest'
test('says where it ran', () => {
  writeFileSync('out/${name}.json', JSON.stringify({ hostname: hostname(), pid: process.pid, poolId: process.env.VITEST_POOL_ID }))
})
`

function files(): Record<string, string> {
  const f: Record<string, string> = {}
  for (const n of ['a', 'b', 'c', 'd', 'e']) f[`test/${n}.test.ts`] = fact(n)
  // Other options, so another worker spec: it cannot take a spare booted for the others.
  // (Split, so that Vitest running this file does not read the docblock as this file's own.)
  f['test/other.test.ts'] = fact('other', `// @vitest-${'environment-options'} { "hostname": "other-box" }`)
  f['out/.keep'] = ''
  return f
}

/** Cgroups of the runner `pid` still present (their names start with the pid of the process that made them). */
function cgroupsOf(pid: number | undefined): string[] {
  const left: string[] = []
  for (const root of ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const dir = `${root}/ns-isolated`
    if (!existsSync(dir)) continue
    for (const e of readdirSync(dir)) if (e.startsWith(`${pid}-`)) left.push(`${dir}/${e}`)
  }
  return left
}

describe('prewarm', () => {
  // Spares boot on a core the run leaves idle: maxWorkers 1 leaves one on any machine of 2 cores or more.
  test('files adopt spares booted ahead, each in its own sandbox, and nothing outlives the run', async (ctx) => {
    if (availableParallelism() < 2) ctx.skip('one core: spares boot only on a core the run leaves idle')
    p = project(undefined, {
      ...files(),
      'vitest.config.ts': config("{ writable: ['out'] }", "{ environment: 'ns-isolated', maxWorkers: 1 }"),
    })
    const r = await p.run([], { NS_ISOLATED_VITEST_DEBUG: '1' })
    expect(r.output).toContain('6 passed')
    expect(r.code).toBe(0)
    const adopted = r.output.match(/adopted \(spare\)/g) ?? []
    expect(adopted.length).toBeGreaterThanOrEqual(3)
    const seen = ['a', 'b', 'c', 'd', 'e', 'other'].map((n) => JSON.parse(p!.read(`out/${n}.json`)))
    // One sandbox per file: six hostnames, none shared, and the other file's own.
    expect(new Set(seen.map((s) => s.hostname)).size).toBe(6)
    expect(seen[5].hostname).toBe('other-box')
    // Vitest's start message still gives the worker its pool id.
    for (const s of seen) expect(s.poolId).toBe('1')
    // Spares the run did not use were stopped: no cgroup of this run is left.
    expect(cgroupsOf(r.pid)).toEqual([])
  })

  test.each([
    ['with a worker on every core', "{ writable: ['out'] }", availableParallelism()],
    ['with prewarm: false', "{ writable: ['out'], prewarm: false }", 1],
  ])('%s, every worker is booted when its file starts', async (_, pluginOptions, maxWorkers) => {
    p = project(undefined, {
      ...files(),
      'vitest.config.ts': config(pluginOptions, `{ environment: 'ns-isolated', maxWorkers: ${maxWorkers} }`),
    })
    const r = await p.run([], { NS_ISOLATED_VITEST_DEBUG: '1' })
    expect(r.output).toContain('6 passed')
    expect(r.output).not.toContain('adopted (spare)')
    expect(r.output.match(/booted/g)?.length).toBe(6)
    expect(cgroupsOf(r.pid)).toEqual([])
  })
})
