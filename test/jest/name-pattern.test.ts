// -t / --testNamePattern in isolated files: only the matching tests run, the
// others are skipped, exactly as stock Jest reports them.
import { afterEach, describe, expect, it } from 'vitest'
import { type JestRun, output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

/** file → [full test name, status] in Jest's order. */
function statuses(r: JestRun): Record<string, [string, string][]> {
  const out: Record<string, [string, string][]> = {}
  for (const t of r.results.testResults) {
    out[t.name.split('/').pop() as string] = t.assertionResults.map((a) => [a.fullName, a.status])
  }
  return out
}

describe('jest: -t (testNamePattern)', () => {
  it('only the matching tests run in isolated files, the others are skipped, as with stock Jest', async () => {
    p = project('name-pattern')
    const stock = await runJest(p, ['-c', 'jest.stock.config.js', '-t', 'wanted'])
    const isolated = await runJest(p, ['-t', 'wanted'])
    expect(isolated.code, output(isolated)).toBe(0)
    expect(stock.code, output(stock)).toBe(0)
    expect(statuses(isolated)).toEqual({
      'selected.test.js': [
        ['wanted runs', 'passed'],
        ['wanted runs too', 'passed'],
        ['other is skipped', 'pending'],
        ['top level, unrelated', 'pending'],
      ],
      'none.test.js': [['nothing to see', 'pending']],
    })
    expect(statuses(isolated)).toEqual(statuses(stock))
    const summary = (text: string) => text.split('\n').filter((l) => /^(Test Suites|Tests):/.test(l))
    expect(summary(isolated.stderr)).toEqual(summary(stock.stderr))
    // both files ran in a sandbox, and only the matching tests started there
    const tests = Object.fromEntries(isolated.usage?.files.map((f) => [f.file, f.tests.map((t) => t.name)]) ?? [])
    expect(tests).toEqual({ 'none.test.js': [], 'selected.test.js': ['wanted > runs', 'wanted > runs too'] })
  })
})
