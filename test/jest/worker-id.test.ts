// JEST_WORKER_ID inside a sandbox means what it means with stock Jest: 1…N,
// unique among the workers running at the same time, '1' in band. In fresh
// mode it is the slot the file's (new) sandbox took; in reuse mode a sandbox
// keeps its id for all its files.
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJestRaw } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

interface Seen {
  name: string
  workerId: string
  sandbox: string | null
  pid: number
}

const CONFIGS = { stock: 'jest.stock.config.js', fresh: 'jest.config.js', reuse: 'jest.reuse.config.js' } as const

/** Runs Jest (a fresh cache each time, so that Jest's "in band" choice is the same for all) and reads what the files saw. */
async function seen(q: Project, config: keyof typeof CONFIGS, args: string[]): Promise<Seen[]> {
  const dir = join(q.dir, 'seen')
  for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(join(dir, f))
  const cache = `.cache-${config}-${args.join('_').replace(/\W/g, '')}`
  const r = await runJestRaw(q, ['-c', CONFIGS[config], `--cacheDirectory=${cache}`, ...args])
  expect(r.code, output(r)).toBe(0)
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Seen)
}

describe('jest: JEST_WORKER_ID', () => {
  it('is 1…maxWorkers in every mode, as with stock Jest; fresh: one new sandbox per file', async () => {
    p = project('worker-id')
    for (const config of ['stock', 'fresh', 'reuse'] as const) {
      const files = await seen(p, config, ['--maxWorkers=2', 'file-'])
      expect(files.map((f) => f.name)).toEqual(['file-1', 'file-2', 'file-3', 'file-4'])
      for (const f of files) expect(['1', '2'], `${config}: ${JSON.stringify(f)}`).toContain(f.workerId)
      if (config === 'stock') continue
      expect(files.every((f) => f.pid === 2 && f.sandbox?.startsWith('ns-isolated-'))).toBe(true)
      if (config === 'fresh') expect(new Set(files.map((f) => f.sandbox)).size).toBe(4)
    }
  })

  it('two files running at the same time have different ids, as with stock Jest', async () => {
    p = project('worker-id')
    for (const config of ['stock', 'fresh', 'reuse'] as const) {
      // meet-a and meet-b each wait until the other has started: they ran at the same time
      const [a, b] = await seen(p, config, ['--maxWorkers=2', 'meet-'])
      expect(new Set([a?.workerId, b?.workerId]), config).toEqual(new Set(['1', '2']))
    }
  })

  it('reuse: a sandbox keeps its id for all of its files; two sandboxes never share one', async () => {
    p = project('worker-id')
    const files = await seen(p, 'reuse', ['--maxWorkers=2', 'file-'])
    const idOf = new Map<string, Set<string>>()
    for (const f of files) idOf.set(f.sandbox as string, (idOf.get(f.sandbox as string) ?? new Set()).add(f.workerId))
    expect(idOf.size).toBeLessThanOrEqual(2)
    for (const ids of idOf.values()) expect(ids.size).toBe(1)
    const ids = [...idOf.values()].map((s) => [...s][0])
    expect(new Set(ids).size).toBe(ids.length)
  })

  it("in band (-i) every file is worker '1', as with stock Jest", async () => {
    p = project('worker-id')
    for (const config of ['stock', 'fresh', 'reuse'] as const) {
      const files = await seen(p, config, ['-i', 'file-'])
      expect(
        files.map((f) => f.workerId),
        config,
      ).toEqual(['1', '1', '1', '1'])
      // in band is never in Jest's own process: each file ran in a sandbox (fresh: each its own)
      if (config === 'fresh') expect(new Set(files.map((f) => f.sandbox)).size).toBe(4)
      if (config === 'reuse') expect(new Set(files.map((f) => f.sandbox)).size).toBe(1)
    }
  })
})
