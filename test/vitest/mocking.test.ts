/**
 * TypeScript test files (enums, parameter properties, generics, `satisfies`,
 * type-only imports) and `vi.mock` of local modules (a factory keeping part of
 * the original, an automock, `vi.importActual`, `vi.hoisted`) work inside.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project, summary } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('vi.mock of local TypeScript modules works in a sandboxed .ts test file', async () => {
  p = project('mocking', { 'vitest.config.ts': config("{ report: { json: 'ns.json' } }") })
  const r = await p.run(['--reporter=verbose'])
  expect(r.output).toMatch(/✓ .*mock\.spec\.ts > runs inside the sandbox/)
  expect(r.output).toMatch(
    /✓ .*mock\.spec\.ts > a factory mock replaces the local module, also for the modules importing it/,
  )
  expect(r.output).toMatch(/✓ .*mock\.spec\.ts > an automock replaces every export/)
  expect(r.output).toMatch(/✓ .*mock\.spec\.ts > the original is still reachable through vi\.importActual/)
  expect(summary(r.output)).toEqual(['Test Files 1 passed (1)', 'Tests 4 passed (4)'])
  expect(r.code).toBe(0)
  expect(JSON.parse(p.read('ns.json')).files.map((f: { file: string }) => f.file)).toEqual(['mock.spec.ts'])
})
