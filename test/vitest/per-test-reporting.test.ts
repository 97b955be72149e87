/**
 * `isolation: 'test'` reports a file as stock Vitest does: the same file,
 * run stock (forks) and one sandbox per test, gives the same results to the
 * reporters. Names, order, states, counts, skip/only/todo, `-t`,
 * `test.each`/`describe.each`, retries and repeats, `concurrent` (run one
 * after the other, each in its own sandbox), `expect.assertions`, a failing
 * `beforeAll`, console output per test, snapshots, coverage, and watch
 * mode re-running the file.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { config, type Project, project, type RunOutput, stockConfig, summary } from './helpers.ts'

const projects: Project[] = []
afterEach(() => {
  for (const p of projects.splice(0)) p.cleanup()
})

/** One project per side, each with its own cache dir (Vitest orders files by its results cache); one worker, so the order is fixed. */
function pair(files: Record<string, string> = {}, fixture = 'per-test-parity'): { stock: Project; iso: Project } {
  const top = "cacheDir: '.cache',"
  const stock = project(fixture, {
    ...files,
    'vitest.config.ts': stockConfig("{ pool: 'forks', maxWorkers: 1 }", top),
  })
  const iso = project(fixture, {
    ...files,
    'vitest.config.ts': config(
      "{ isolation: 'test', report: { table: false, json: 'ns.json' } }",
      "{ environment: 'ns-isolated', maxWorkers: 1 }",
      top,
    ),
  })
  projects.push(stock, iso)
  return { stock, iso }
}

type Assertion = { fullName: string; status: string; duration?: number; meta: Record<string, unknown> }
type JsonReport = {
  startTime?: number
  numTotalTests: number
  testResults: { name: string; startTime?: number; endTime?: number; assertionResults: Assertion[] }[]
}

/** The JSON report without timings, the root and the sandboxes' figures (meta.nsIsolated, the documented addition). */
function normalised(p: Project, file: string): JsonReport {
  const report = JSON.parse(p.read(file).split(p.dir).join('<root>')) as JsonReport
  delete report.startTime
  for (const f of report.testResults) {
    delete f.startTime
    delete f.endTime
    for (const a of f.assertionResults) {
      delete a.duration
      delete a.meta.nsIsolated
    }
  }
  return report
}

async function json(p: Project, args: string[] = []): Promise<{ r: RunOutput; report: JsonReport }> {
  const r = await p.run([...args, '--reporter=json', '--outputFile.json=results.json'])
  return { r, report: normalised(p, 'results.json') }
}

/** The verbose reporter's lines up to the summary, without durations and the root. */
function verbose(r: RunOutput, root: string): string[] {
  const text = r.output.split(root).join('<root>')
  return text
    .slice(0, text.indexOf(' Start at '))
    .split('\n')
    .map((l) => l.replace(/ \d+(\.\d+)?m?s( |$)/, '$1').trimEnd())
    .filter((l) => l !== '')
}

describe('the same results as stock', () => {
  test('--reporter=json: names, order, states, counts; skip, only, todo, each, retry, repeats, concurrent, expect.assertions, a failing beforeAll', async () => {
    const { stock, iso } = pair()
    const s = await json(stock, ['main', 'only'])
    const i = await json(iso, ['main', 'only'])
    expect(i.r.code).toBe(1)
    expect(i.r.code).toBe(s.r.code)
    expect(s.report.numTotalTests).toBe(26)
    expect(i.report, i.r.output).toEqual(s.report)
    const states = Object.fromEntries(
      s.report.testResults.flatMap((f) => f.assertionResults.map((a) => [a.fullName, a.status])),
    )
    // What the fixture covers, as stock reports it.
    expect(states).toMatchObject({
      fails: 'failed',
      'is skipped': 'skipped',
      'is todo': 'todo',
      retried: 'passed',
      'asserts too few': 'failed',
      'broken beforeAll first under it': 'skipped',
      'not the only one': 'skipped',
      'the only one': 'passed',
    })
    // Each test that ran had its own sandbox: its figures are exact.
    const report = JSON.parse(iso.read('ns.json')) as { files: { tests: { exact?: boolean }[] }[] }
    expect(report.files.map((f) => f.tests.filter((t) => t.exact).length)).toEqual([19, 2])
  })

  test('--reporter=verbose prints the same lines', async () => {
    const { stock, iso } = pair()
    const s = await stock.run(['main', '--reporter=verbose'])
    const i = await iso.run(['main', '--reporter=verbose'])
    expect(verbose(i, iso.dir)).toEqual(verbose(s, stock.dir))
    expect(summary(i.output)).toEqual(summary(s.output))
    // The failing beforeAll ran in both its tests' sandboxes: its suite fails once, with its error once.
    const count = (o: string, what: string) => o.split(what).length - 1
    expect(count(s.output, 'Error: beforeAll broke')).toBe(1)
    expect(count(i.output, 'Error: beforeAll broke')).toBe(1)
    expect(i.output).toContain('FAIL  main.spec.ts > broken beforeAll')
  })

  test('-t runs the same tests', async () => {
    const { stock, iso } = pair()
    const s = await json(stock, ['main', '-t', 'group|each 2'])
    const i = await json(iso, ['main', '-t', 'group|each 2'])
    expect(i.report, i.r.output).toEqual(s.report)
    const passed = i.report.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'passed'))
    expect(passed.map((a) => a.fullName)).toEqual([
      'each 2',
      'group x inside',
      'group x second',
      'group y inside',
      'group y second',
    ])
  })
})
