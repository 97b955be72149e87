/**
 * Coverage (v8 and istanbul) collected inside sandboxes equals stock Vitest's on the same
 * fixture: the workers' coverage files reach the host through the writable
 * coverage temp dir.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const coverage = (provider: string) => [
  '--coverage.enabled',
  `--coverage.provider=${provider}`,
  '--coverage.reporter=json-summary',
  '--coverage.include=src/**',
]

async function summary(provider: string, environment: string): Promise<unknown> {
  p = project('coverage', { 'vitest.config.ts': config('{}', `{ environment: '${environment}' }`) })
  const r = await p.run(coverage(provider))
  expect(r.output).toContain('2 passed')
  expect(r.code).toBe(0)
  const json = JSON.parse(p.read('coverage/coverage-summary.json'))
  p.cleanup()
  p = undefined
  // Keyed by file relative to the fixture (its temp dir differs per run).
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(json)) out[k === 'total' ? k : k.slice(k.indexOf('/src/'))] = v
  return out
}

for (const provider of ['v8', 'istanbul']) {
  test(`${provider} coverage inside ns-isolated equals stock forks`, async () => {
    const stock = await summary(provider, 'node')
    const isolated = await summary(provider, 'ns-isolated')
    expect(isolated).toEqual(stock)
    const lines = (stock as { total: { lines: { covered: number; total: number } } }).total.lines
    // Partly covered: neverCalled() is not, so a lost worker file would show.
    expect(lines.covered).toBeGreaterThan(0)
    expect(lines.covered).toBeLessThan(lines.total)
  })
}
