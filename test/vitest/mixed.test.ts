/**
 * Which files are isolated: per file by docblock next to stock files, and per
 * project with test.projects (the plugin's configureVitest runs per project).
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('a docblock isolates one file; the others run as stock forks', async () => {
  p = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
  const r = await p.run([], { NS_ISOLATED_VITEST_DEBUG: '1' })
  expect(r.output).toContain('2 passed')
  expect(r.code).toBe(0)
  // only the isolated file had a sandbox
  expect(r.stderr.split('\n').filter((l) => l.includes('stopped (worker'))).toEqual([
    expect.stringContaining('isolated.spec.ts'),
  ])
  expect(r.output).toContain('ns-isolated usage (1 sandboxed file)')
})

test('test.projects: the project asking for ns-isolated is isolated, the other is not', async () => {
  p = project('projects')
  const r = await p.run()
  expect(r.output).toContain('2 passed')
  expect(r.output).toMatch(/iso.*inside\.spec\.ts/)
  expect(r.output).toMatch(/plain.*outside\.spec\.ts/)
  expect(r.code).toBe(0)
})

test('without the plugin, the environment refuses clearly and names the fix', async () => {
  p = project('mixed', { 'vitest.config.ts': "export default { test: { environment: 'node' } }\n" })
  const r = await p.run()
  expect(r.code).toBe(1)
  expect(r.output).toContain('the plugin that installs the ns-isolated pool is missing')
  expect(r.output).toContain('plugins: [nsIsolated()]')
})
