/**
 * `--bail`: the run stops at the same point as stock Vitest's forks pool.
 * Each side is its own project with its own cache dir (Vitest orders files by
 * its results cache), and the expected counts are stock's, never guessed.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project, stockConfig, summary } from './helpers.ts'

const projects: Project[] = []
afterEach(() => {
  for (const p of projects.splice(0)) p.cleanup()
})

function pair(testOptions: string, pluginOptions = ''): { stock: Project; iso: Project } {
  const top = "cacheDir: '.cache',"
  const stock = project('bail', { 'vitest.config.ts': stockConfig(`{ pool: 'forks', ${testOptions} }`, top) })
  const iso = project('bail', {
    'vitest.config.ts': config(
      `{ ${pluginOptions} report: { json: 'ns.json' } }`,
      `{ environment: 'ns-isolated', ${testOptions} }`,
      top,
    ),
  })
  projects.push(stock, iso)
  return { stock, iso }
}

test('--bail 1 with two failing files stops after the first failure, as stock forks does', async () => {
  const { stock, iso } = pair('maxWorkers: 1')
  const args = ['--bail', '1', 'serial/']
  const s = await stock.run(args)
  const i = await iso.run(args)
  // stock really bailed: not every file ran
  expect(summary(s.output)).toEqual([expect.stringMatching(/^Test Files 1 failed \(3\)$/), expect.any(String)])
  expect(summary(i.output)).toEqual(summary(s.output))
  expect(i.code).toBe(s.code)
  expect(i.code).toBe(1)
  // the file that ran was sandboxed
  expect(JSON.parse(iso.read('ns.json')).totals.files).toBe(1)
})

test('--bail 1 cancels a sandboxed file that is still running, as stock forks does', async () => {
  const { stock, iso } = pair('maxWorkers: 2, testTimeout: 30_000', "writable: ['shared'],")
  const args = ['--bail', '1', 'parallel/']
  const s = await stock.run(args)
  const i = await iso.run(args)
  // stock: the waiting test was cancelled (skipped), not timed out, and the next one never ran
  expect(s.output).not.toContain('Test timed out')
  expect(summary(s.output)).toContain('Tests 1 failed | 2 skipped (3)')
  expect(i.output).not.toContain('Test timed out')
  expect(summary(i.output)).toEqual(summary(s.output))
  expect(i.code).toBe(s.code)
  expect(JSON.parse(iso.read('ns.json')).totals.files).toBe(2)
})
