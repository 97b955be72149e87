// Coverage from sandboxed files equals stock Jest's, with both providers, in
// both modes (reuse: with a reset between the files).
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

async function coverage(q: Project, provider: string, config: string, args: string[] = []) {
  rmSync(join(q.dir, 'coverage'), { recursive: true, force: true })
  const r = await runJest(q, [
    '--config',
    config,
    '--coverage',
    `--coverageProvider=${provider}`,
    '--coverageReporters=json',
    ...args,
  ])
  expect(r.code, output(r)).toBe(0)
  return { json: JSON.parse(readFileSync(join(q.dir, 'coverage', 'coverage-final.json'), 'utf8')) as unknown, r }
}

describe('jest: coverage', () => {
  for (const provider of ['babel', 'v8']) {
    it(`${provider}: the same coverage as stock Jest`, async () => {
      p = project('coverage')
      const stock = (await coverage(p, provider, 'jest.stock.config.js')).json
      const isolated = (await coverage(p, provider, 'jest.config.js')).json
      expect(Object.keys(stock as object)).toEqual([join(p.dir, 'src', 'math.js')])
      expect(isolated).toEqual(stock)
      // reuse: both files in one sandbox, which is reset after the file that wrote to /etc
      const reused = await coverage(p, provider, 'jest.reuse.config.js', ['--maxWorkers=1'])
      expect(reused.json).toEqual(stock)
      const files = reused.r.usage?.files ?? []
      expect(new Set(files.map((f) => f.sandbox)).size).toBe(1)
      expect(files.find((f) => f.file === 'add.test.js')?.reset?.rootReset).toBe(true)
    })
  }
})
