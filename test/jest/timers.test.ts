// Fake timers (modern and legacy) inside the sandbox behave as with stock
// Jest, and do not disturb the per-test figures (the environment samples with
// the worker's own timers, not the test's).
import { afterEach, describe, expect, it } from 'vitest'
import { type JestRun, output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const statuses = (r: JestRun) =>
  r.results.testResults
    .flatMap((t) => t.assertionResults.map((a) => `${t.name.split('/').pop()} > ${a.fullName}: ${a.status}`))
    .sort()

describe('jest: fake timers', () => {
  it('jest.useFakeTimers() (modern and legacy) works in isolated files, as with stock Jest', async () => {
    p = project('timers')
    const stock = await runJest(p, ['-c', 'jest.stock.config.js'])
    const isolated = await runJest(p)
    expect(stock.code, output(stock)).toBe(0)
    expect(isolated.code, output(isolated)).toBe(0)
    expect(isolated.results.numPassedTests).toBe(5)
    expect(statuses(isolated)).toEqual(statuses(stock))
    // they ran in sandboxes, and every test still has its figures
    const tests = isolated.usage?.files.flatMap((f) => f.tests) ?? []
    expect(tests.length).toBe(5)
    for (const t of tests) {
      expect(t.wallMs).toBeGreaterThanOrEqual(0)
      expect(t.cpuMs).not.toBeNull()
    }
  })
})
