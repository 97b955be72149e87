// Options are validated before any sandbox starts, with the core's precise
// messages; the environment alone (without the runner) refuses and names the fix.
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

// The fixture's jest.config.js reads the config from JEST_CONFIG_JSON.
async function run(config: object, args: string[] = []) {
  p = project('options')
  return runJest(p, args, { JEST_CONFIG_JSON: JSON.stringify(config) })
}

describe('jest: options', () => {
  const preset = 'jest-environment-ns-isolated'
  const cases: [string, object, string][] = [
    ['leaks', { leaks: 'sometimes' }, "option `leaks` must be one of 'report', 'fail', 'ignore'; got 'sometimes'."],
    ['isolation', { isolation: 'shared' }, "option `isolation` must be one of 'fresh', 'reuse', 'test'; got 'shared'."],
    ['a typo', { memroy: '1G' }, 'unknown option `memroy`. Known options:'],
    [
      'memory',
      { memory: '12 parsecs' },
      "option `memory` must be a positive byte count or a size like '512M' or '2G'; got '12 parsecs'.",
    ],
    ['network', { network: 'internet' }, "option `network` must be one of 'loopback', 'none', 'host'; got 'internet'."],
    ['report', { report: { jsn: 'x.json' } }, 'unknown option `report.jsn`. Known options: heaviest, json, table.'],
    ['compileCache', { compileCache: 'yes' }, "option `compileCache` must be true or false; got 'yes'."],
    ['report.table', { report: { table: 1 } }, 'option `report.table` must be true or false; got 1.'],
  ]
  for (const [what, options, message] of cases) {
    it(`rejects a bad ${what} clearly, before running anything`, async () => {
      const r = await run({ preset, testEnvironmentOptions: options })
      expect(r.code, output(r)).toBe(1)
      expect(r.stderr).toContain('Test suite failed to run')
      expect(r.stderr).toContain(message)
      expect(r.results.numPassedTests).toBe(0)
    })
  }

  for (const args of [[], ['--runInBand']]) {
    it(`the environment without the runner refuses and names the fix (${args.join(' ') || 'workers'})`, async () => {
      const r = await run({ testEnvironment: 'ns-isolated' }, args)
      expect(r.code, output(r)).toBe(1)
      expect(r.stderr).toContain('Jest is running it outside a sandbox')
      expect(r.stderr).toContain("preset: 'jest-environment-ns-isolated'")
    })
  }

  it('the runner plus `testEnvironment: ns-isolated` is enough', async () => {
    const r = await run({ testEnvironment: 'ns-isolated', runner: 'jest-environment-ns-isolated/runner' })
    expect(r.code, output(r)).toBe(0)
  })
})
