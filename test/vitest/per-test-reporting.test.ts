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
import {
  config,
  type JsonReport,
  normalisedJson,
  type Project,
  project,
  type RunOutput,
  stockAndIsolated,
  summary,
  verboseLines,
  type WatchRun,
} from './helpers.ts'

// A file here runs as one sandbox per test, several times over: a loaded machine (load 60 seen) needs
// more than the suite's 60 s per test. A bound against hangs, not a speed check.
const HEAVY = { timeout: 300_000 }
const PER_TEST = "{ isolation: 'test' }"

const projects: Project[] = []
let watching: WatchRun | undefined
afterEach(async () => {
  const w = watching
  watching = undefined
  if (w && w.child.exitCode === null && w.child.signalCode === null) {
    w.child.kill('SIGKILL')
    await w.exited
  }
  for (const p of projects.splice(0)) p.cleanup()
})

/** The JSON report without timings, the root and the sandboxes' figures (meta.nsIsolated, the documented addition). */
function normalised(p: Project, file: string): JsonReport {
  const report = normalisedJson(p, file)
  for (const f of report.testResults) for (const a of f.assertionResults) delete a.meta.nsIsolated
  return report
}

async function json(p: Project, args: string[] = []): Promise<{ r: RunOutput; report: JsonReport }> {
  const r = await p.run([...args, '--reporter=json', '--outputFile.json=results.json'])
  return { r, report: normalised(p, 'results.json') }
}

describe('the same results as stock', HEAVY, () => {
  test('--reporter=json: names, order, states, counts; skip, only, todo, each, retry, repeats, concurrent, expect.assertions, a failing beforeAll', async () => {
    const { stock, iso } = stockAndIsolated(projects, 'per-test-parity', { plugin: PER_TEST })
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
    const { stock, iso } = stockAndIsolated(projects, 'per-test-parity', { plugin: PER_TEST })
    const s = await stock.run(['main', '--reporter=verbose'])
    const i = await iso.run(['main', '--reporter=verbose'])
    expect(verboseLines(i, iso.dir)).toEqual(verboseLines(s, stock.dir))
    expect(summary(i.output)).toEqual(summary(s.output))
    // The failing beforeAll ran in both its tests' sandboxes: its suite fails once, with its error once.
    const count = (o: string, what: string) => o.split(what).length - 1
    expect(count(s.output, 'Error: beforeAll broke')).toBe(1)
    expect(count(i.output, 'Error: beforeAll broke')).toBe(1)
    expect(i.output).toContain('FAIL  main.spec.ts > broken beforeAll')
  })

  test('-t runs the same tests', async () => {
    const { stock, iso } = stockAndIsolated(projects, 'per-test-parity', { plugin: PER_TEST })
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

type Log = { task: string; type: string; content: string }

test("console output: each test's lines are attributed to it as stock does; the file's top-level code and hooks print in every sandbox that ran them", async () => {
  const { stock, iso } = stockAndIsolated(projects, 'per-test-parity', { plugin: PER_TEST })
  const args = ['console', '--reporter=default', '--reporter=./logs.reporter.ts']
  expect((await stock.run(args)).code).toBe(0)
  expect((await iso.run(args)).code).toBe(0)
  const s = JSON.parse(stock.read('logs.json')) as Log[]
  const i = JSON.parse(iso.read('logs.json')) as Log[]
  const ofTests = (logs: Log[]) => logs.filter((l) => l.task.startsWith('test: '))
  expect(ofTests(i)).toEqual(ofTests(s))
  expect(ofTests(s)).toEqual([
    { task: 'test: logs once', type: 'stdout', content: 'from logs once' },
    { task: 'test: group > logs twice', type: 'stdout', content: 'from logs twice: 1' },
    { task: 'test: group > logs twice', type: 'stderr', content: 'from logs twice: 2' },
  ])
  const others = (logs: Log[]) => logs.filter((l) => !l.task.startsWith('test: '))
  expect(new Set(others(i).map((l) => JSON.stringify(l)))).toEqual(new Set(others(s).map((l) => JSON.stringify(l))))
  const times = (logs: Log[], content: string) => logs.filter((l) => l.content === content).length
  // 3 tests, 3 sandboxes: the module scope and the file's hooks ran 3 times, the group's beforeAll once.
  expect(times(i, 'module scope')).toBe(3)
  expect(times(i, 'file beforeAll')).toBe(3)
  expect(times(i, 'group beforeAll')).toBe(1)
  expect(times(s, 'module scope')).toBe(1)
})

test('--bail: the tests stock leaves unrun are left so, the file fails as in stock', async () => {
  const bail =
    "import { expect, test } from 'vitest'\ntest('one', () => { expect(1).toBe(2) })\ntest('two', () => {})\ntest('three', () => {})\n"
  const { stock, iso } = stockAndIsolated(projects, 'per-test-parity', {
    plugin: PER_TEST,
    files: { 'bail.spec.ts': bail },
  })
  const s = await json(stock, ['bail', '--bail=1'])
  const i = await json(iso, ['bail', '--bail=1'])
  expect(i.r.code).toBe(1)
  expect(i.report, i.r.output).toEqual(s.report)
  expect(summary(i.r.output)).toEqual(summary(s.r.output))
})

describe('snapshots', HEAVY, () => {
  const file = (tests: string) => `import { expect, test } from 'vitest'\n${tests}\n`
  const one = "test('one', () => { expect({ a: 1 }).toMatchSnapshot() })"
  const two = "test('two', () => { expect('x').toMatchSnapshot(); expect('y').toMatchSnapshot('named') })"
  const three = "test('three', () => { expect([3]).toMatchSnapshot() })"
  const snap = '__snapshots__/snap.spec.ts.snap'
  const summaryWithSnapshots = (o: string) =>
    o
      .split('\n')
      .filter((l) => /^\s*(Snapshots|Test Files|Tests)\s/.test(l))
      .map((l) => l.trim().replace(/\s+/g, ' '))

  test('written, matched, obsolete and removed with -u, failed: the same summary and .snap as stock', async () => {
    const { stock, iso } = stockAndIsolated(projects, 'per-test-parity', {
      plugin: PER_TEST,
      files: { 'snap.spec.ts': file([one, two, three].join('\n')) },
    })
    const both = async (args: string[]) => {
      const s = await stock.run(['snap', ...args])
      const i = await iso.run(['snap', ...args])
      expect(i.code, i.output).toBe(s.code)
      expect(summaryWithSnapshots(i.output)).toEqual(summaryWithSnapshots(s.output))
      expect(iso.read(snap)).toBe(stock.read(snap))
      return summaryWithSnapshots(i.output)
    }
    expect(await both([])).toContain('Snapshots 4 written')
    expect(await both([])).toEqual(['Test Files 1 passed (1)', 'Tests 3 passed (3)'])
    // 'two' is gone (its 2 snapshots are obsolete); 'three' is skipped (its snapshot is kept).
    for (const p of [stock, iso]) p.write('snap.spec.ts', file([one, three.replace('test(', 'test.skip(')].join('\n')))
    // Vitest 5 counts the snapshots ('2 obsolete'), Vitest 4 the files ('1 obsolete'): both() compares with stock.
    expect(await both([])).toContainEqual(expect.stringMatching(/^Snapshots \d+ obsolete/))
    expect(await both(['-u'])).toContainEqual(expect.stringMatching(/^Snapshots \d+ removed/))
    expect(iso.read(snap)).toContain('exports[`three 1`]')
    expect(iso.read(snap)).not.toContain('exports[`two 1`]')
    for (const p of [stock, iso]) p.write('snap.spec.ts', file(one.replace('a: 1', 'a: 2')))
    expect(await both([])).toContain('Snapshots 1 failed')
  })
})

test('coverage from all of a file’s sandboxes merges into stock’s figures', async () => {
  const { stock, iso } = stockAndIsolated(projects, 'coverage', { plugin: PER_TEST })
  const args = [
    '--coverage.enabled',
    '--coverage.provider=v8',
    '--coverage.reporter=json-summary',
    '--coverage.include=src/**',
  ]
  // Two tests of one file, each calling another function: each sandbox covers part of it.
  const both =
    "import { expect, test } from 'vitest'\nimport { add, sign } from '../src/math.ts'\ntest('add', () => expect(add(1, 2)).toBe(3))\ntest('sign', () => expect(sign(5)).toBe(1))\n"
  for (const p of [stock, iso]) p.write('test/both.spec.ts', both)
  const read = (p: Project) => {
    const json = JSON.parse(p.read('coverage/coverage-summary.json')) as Record<string, unknown>
    return Object.fromEntries(
      Object.entries(json).map(([k, v]) => [k === 'total' ? k : k.slice(k.indexOf('/src/')), v]),
    )
  }
  expect((await stock.run(['both', ...args])).code).toBe(0)
  expect((await iso.run(['both', ...args])).code).toBe(0)
  expect(read(iso)).toEqual(read(stock))
})

test('per file through @vitest-environment-options, with the plugin left at one sandbox per file', async () => {
  const p = project(undefined, {
    'vitest.config.ts': config("{ report: { table: false, json: 'ns.json' } }", "{ environment: 'ns-isolated' }"),
    'each.spec.ts': `// @vitest-${'environment'} ns-isolated\n// @vitest-${'environment'}-options { "isolation": "test" }\nimport { expect, test } from 'vitest'\nconst g = globalThis as { seen?: number }\ntest('a', () => { g.seen = process.pid; expect(process.pid).toBe(2) })\ntest('b', () => { expect(g.seen).toBeUndefined() })\n`,
    'shared.spec.ts': `import { expect, test } from 'vitest'\nconst g = globalThis as { seen?: number }\ntest('a', () => { g.seen = 1 })\ntest('b', () => { expect(g.seen).toBe(1) })\n`,
  })
  projects.push(p)
  const r = await p.run()
  expect(r.code, r.output).toBe(0)
  const report = JSON.parse(p.read('ns.json')) as { files: { file: string; tests: { exact?: boolean }[] }[] }
  const exact = Object.fromEntries(report.files.map((f) => [f.file, f.tests.map((t) => t.exact ?? false)]))
  expect(exact).toEqual({ 'each.spec.ts': [true, true], 'shared.spec.ts': [false, false] })
})

test('watch mode re-runs a changed file, each test in a new sandbox again', async () => {
  const spec = (round: number) =>
    `import { hostname } from 'node:os'\nimport { test } from 'vitest'\nfor (const name of ['a', 'b']) test(name, () => console.log(\`round ${round} \${name}: \${hostname()}\`))\n`
  const p = project(undefined, {
    'vitest.config.ts': config("{ isolation: 'test', report: { table: false } }"),
    'watched.spec.ts': spec(1),
  })
  projects.push(p)
  const w = p.watch(['watched'])
  watching = w
  const hosts = (o: string, round: number) =>
    [...o.matchAll(new RegExp(`round ${round} [ab]: (\\S+)`, 'g'))].map((m) => m[1])
  const first = await w.until((o) => o.includes('Waiting for file changes'))
  expect(first).toMatch(/Tests +2 passed \(2\)/)
  p.write('watched.spec.ts', spec(2))
  const second = await w.until((o) => o.split('Waiting for file changes').length > 2 && hosts(o, 2).length === 2)
  const rerun = second.slice(second.indexOf('Waiting for file changes'))
  expect(rerun).toContain('RERUN')
  expect(rerun).toMatch(/Tests +2 passed \(2\)/)
  // Four sandboxes, four hostnames: one per test per run.
  expect(new Set([...hosts(second, 1), ...hosts(second, 2)]).size).toBe(4)
})
