/**
 * `--reporter=verbose` and `--reporter=json` report the same results for
 * sandboxed files as for stock Vitest's forks pool (JUnit: report.test.ts).
 */
import { afterEach, expect, test } from 'vitest'
import { normalisedJson, type Project, stockAndIsolated, verboseLines } from './helpers.ts'

const projects: Project[] = []
afterEach(() => {
  for (const p of projects.splice(0)) p.cleanup()
})

test('--reporter=verbose prints the same test results as stock', async () => {
  const { stock, iso } = stockAndIsolated(projects, 'results')
  const s = await stock.run(['--reporter=verbose'])
  const i = await iso.run(['--reporter=verbose'])
  expect(i.code).toBe(1)
  expect(i.code).toBe(s.code)
  const lines = verboseLines(i, iso.dir)
  expect(lines).toEqual(
    expect.arrayContaining([
      ' ✓ results.spec.ts > passes',
      ' × results.spec.ts > fails',
      '   → expected { a: 1 } to deeply equal { a: 2 }',
      ' ↓ results.spec.ts > is skipped',
      ' □ results.spec.ts > is todo',
      ' ✓ results.spec.ts > outer > inner > each 2',
      ' ✓ more.spec.ts > another file passes',
      '      Tests  1 failed | 5 passed | 1 skipped | 1 todo (8)',
    ]),
  )
  expect(lines).toEqual(verboseLines(s, stock.dir))
  expect(JSON.parse(iso.read('ns.json')).totals.files).toBe(2)
})

test('--reporter=json writes the same results as stock; sandboxed tests add only their figures under meta.nsIsolated', async () => {
  const { stock, iso } = stockAndIsolated(projects, 'results')
  const args = ['--reporter=json', '--outputFile.json=results.json']
  const s = await stock.run(args)
  const i = await iso.run(args)
  expect(i.code).toBe(1)
  expect(i.code).toBe(s.code)
  const expected = normalisedJson(stock, 'results.json')
  const seen = normalisedJson(iso, 'results.json')
  expect(seen).toMatchObject({ numTotalTests: 8, numPassedTests: 5, numFailedTests: 1, numPendingTests: 1 })
  // each test that ran (5 passed, 1 failed) carries the tracker's figures, the documented addition;
  // without them, the report equals stock's
  const figures = seen.testResults.flatMap((f) => f.assertionResults).filter((a) => a.meta.nsIsolated)
  expect(figures.map((a) => a.meta.nsIsolated)).toEqual(
    Array(6).fill(expect.objectContaining({ cpuMs: expect.any(Number) })),
  )
  for (const a of figures) delete a.meta.nsIsolated
  expect(seen).toEqual(expected)
})
