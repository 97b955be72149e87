// Coverage from sandboxed files equals stock Jest's, with both providers.
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

async function coverage(q: Project, provider: string, config: string): Promise<unknown> {
  rmSync(join(q.dir, 'coverage'), { recursive: true, force: true })
  const r = await runJest(q, [
    '--config',
    config,
    '--coverage',
    `--coverageProvider=${provider}`,
    '--coverageReporters=json',
  ])
  expect(r.code, output(r)).toBe(0)
  return JSON.parse(readFileSync(join(q.dir, 'coverage', 'coverage-final.json'), 'utf8'))
}

describe('jest: coverage', () => {
  for (const provider of ['babel', 'v8']) {
    it(`${provider}: the same coverage as stock Jest`, async () => {
      p = project('coverage')
      const stock = await coverage(p, provider, 'jest.stock.config.js')
      const isolated = await coverage(p, provider, 'jest.config.js')
      expect(Object.keys(stock as object)).toEqual([join(p.dir, 'src', 'math.js')])
      expect(isolated).toEqual(stock)
    })
  }
})
