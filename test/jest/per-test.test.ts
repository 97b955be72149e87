// isolation: 'test': every test of a file in its own fresh sandbox. The
// issue's proof (test B finds nothing test A left), each test's figures from
// its own cgroup, and, for Jest's reporters, the same file as stock Jest
// reports it: names, order, statuses, counts, console, failures, -t, .only,
// .each, retries, concurrent, expect.assertions, a failing beforeAll,
// snapshots (written, obsolete, -u) and coverage, each side by side with a
// stock run of the same file.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pidsWithMarker, root, uniqueSleep } from '../helpers.ts'
import {
  eventually,
  type JestRun,
  jestMajor,
  output,
  type Project,
  pidsWithEnv,
  project,
  runJest,
  startJest,
  withoutUsage,
} from './helpers.ts'

const projects: Project[] = []
function copy(name: string): Project {
  const p = project(name)
  projects.push(p)
  return p
}
afterEach(() => {
  for (const p of projects.splice(0)) p.cleanup()
})

const STOCK = ['-c', 'jest.stock.config.js']

/**
 * What Jest's --json says of each file's tests, minus times (durations only
 * as present or not) and the stack frames of Jest's and Node's internals
 * (stock Jest runs one file in band, where they differ).
 */
function tests(r: JestRun): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const f of r.results.testResults) {
    out[f.name.split('/').pop() as string] = f.assertionResults.map((a) => {
      const {
        duration,
        startAt: _startAt,
        numPassingAsserts,
        ...rest
      } = a as typeof a & { duration?: number | null; startAt?: number | null; numPassingAsserts?: number }
      // Jest 29 counts a test's passing assertions with its neighbours' (one per process here): Jest 30's only.
      const asserts = jestMajor() >= 30 ? { numPassingAsserts } : {}
      return withoutInternalFrames({ ...rest, ...asserts, duration: typeof duration })
    })
  }
  return out
}

const INTERNAL_FRAME = /^\s+at .*(node_modules|node:internal|<anonymous>)/

function withoutInternalFrames(value: unknown): unknown {
  if (typeof value === 'string')
    return value
      .split('\n')
      .filter((l) => !INTERNAL_FRAME.test(l))
      .join('\n')
  if (Array.isArray(value)) return value.map(withoutInternalFrames)
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutInternalFrames(v)]))
  return value
}

function counts(r: JestRun): Record<string, unknown> {
  const { numFailedTests, numPassedTests, success } = r.results
  const x = r.results as unknown as Record<string, number>
  return {
    numFailedTests,
    numPassedTests,
    success,
    numPendingTests: x.numPendingTests,
    numTodoTests: x.numTodoTests,
    numTotalTests: x.numTotalTests,
    files: r.results.testResults.map((f) => [f.name.split('/').pop(), f.status]),
  }
}

/** Jest's own output without times and the usage report. */
function text(r: JestRun): string {
  return withoutUsage(r.stderr)
    .split('\n')
    .filter((l) => !INTERNAL_FRAME.test(l))
    .join('\n')
    .replace(/ \(\d+(\.\d+)? ?m?s\)/g, '')
    .replace(/^Time:.*$/m, 'Time:')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{2,}/g, '\n') // the usage report's removal leaves one less
}

describe('jest: isolation test', () => {
  it("proof: test B finds nothing test A left (port 3000, /etc/x, a global, the hostname, a sleep), and A's leak is A's", {
    tags: ['root'],
  }, async () => {
    const p = copy('per-test')
    const marker = uniqueSleep()
    const r = await runJest(p, ['proof'], { SLEEP_MARKER: marker })
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    expect(pidsWithMarker(marker)).toEqual([])
    expect(hostname()).not.toBe('changed-by-a')
    const file = r.usage?.files[0]
    expect(file?.isolation).toBe('test')
    const a = 'one file > A leaves a server, /etc/x, a global, a hostname and a sleep'
    expect(file?.leaked).toEqual([expect.objectContaining({ command: `sleep ${marker}`, test: a })])
    const byName = Object.fromEntries((file?.tests ?? []).map((t) => [t.name, t]))
    expect((byName[a] as { leaked?: unknown[] }).leaked).toHaveLength(1)
    expect((byName['one file > B finds none of it'] as { leaked?: unknown[] }).leaked).toBeUndefined()

    // The control: the same file with a sandbox per file fails test B.
    const control = await runJest(p, ['proof'], { SLEEP_MARKER: uniqueSleep(), PER_TEST_ISOLATION: 'fresh' })
    expect(control.code, output(control)).toBe(1)
    expect(tests(control)['proof.test.js']?.map((t) => (t as { status: string }).status)).toEqual(['passed', 'failed'])
  })

  it('examples/jest-per-test passes with it, and fails with a sandbox per file', async () => {
    const p = project('jest-per-test', {}, join(root, 'examples'))
    projects.push(p)
    const r = await runJest(p)
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    expect(r.stderr).toContain('sleep 600')
    const control = await runJest(p, [], { EXAMPLE_ISOLATION: 'fresh' })
    expect(control.code, output(control)).toBe(1)
  })

  it('watch mode: a changed file runs again, a new sandbox per test; stopping Jest leaves none, the one started ahead included', async () => {
    const p = copy('per-test')
    const run = `watch-${uniqueSleep()}`
    const body = (title: string) =>
      ['one', 'two', 'three']
        .map((t) => `test('${t} ${title}', () => console.log('sandbox ' + require('node:os').hostname()))\n`)
        .join('')
    p.write('watched.test.js', body('(first run)'))
    const child = startJest(p, ['--watchAll', 'watched'], { NSISO_JEST_RUN: run })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      const runs = () => out.split('Ran all test suites').length - 1
      const sandboxes = () => new Set([...out.matchAll(/sandbox (ns-isolated-[0-9a-f]+)/g)].map((m) => m[1])).size
      expect(await eventually(() => runs() >= 1, 60_000), out).toBe(true)
      expect(sandboxes(), out).toBe(3)
      p.write('watched.test.js', body('(second run)'))
      expect(await eventually(() => runs() >= 2, 60_000), out).toBe(true)
      expect(out).toContain('three (second run)')
      expect(sandboxes(), out).toBe(6)
      expect(out).not.toContain('✕')
    } finally {
      child.kill('SIGTERM')
      await exited
    }
    expect(await eventually(() => pidsWithEnv('NSISO_JEST_RUN', run).length === 0)).toBe(true)
  }, 180_000)

  it('SIGTERM to Jest during a per-test run: no sandbox is left, the next one started ahead included', async () => {
    const p = copy('per-test')
    const marker = uniqueSleep()
    const run = `stop-${marker}`
    p.write(
      'stopped.test.js',
      `const { spawn } = require('node:child_process')
test('sleeps until Jest is stopped', async () => {
  await new Promise((resolve) => spawn('sleep', [process.env.SLEEP_MARKER], { stdio: 'ignore' }).once('exit', resolve))
}, 600000)
test('never runs', () => {})
test('never runs either', () => {})
`,
    )
    const child = startJest(p, ['stopped'], { SLEEP_MARKER: marker, NSISO_JEST_RUN: run })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    expect(await eventually(() => pidsWithMarker(marker).length > 0, 60_000)).toBe(true)
    child.kill('SIGTERM')
    await exited
    expect(await eventually(() => pidsWithEnv('NSISO_JEST_RUN', run).length === 0)).toBe(true)
    expect(pidsWithMarker(marker)).toEqual([])
  }, 120_000)

  it('is chosen per file by the `@jest-environment-options` docblock', async () => {
    const p = copy('per-test')
    const r = await runJest(p, ['docblock'], { PER_TEST_ISOLATION: 'reuse' })
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    expect(r.usage?.files[0]?.isolation).toBe('test')
  })

  it("each test's CPU, peak memory, peak pids and OOM kill are its own sandbox's: the hog fails alone", {
    tags: ['root'],
  }, async () => {
    const p = copy('per-test')
    const r = await runJest(p, ['hog'])
    expect(r.code, output(r)).toBe(1)
    expect(tests(r)['hog.test.js']?.map((t) => (t as { status: string }).status)).toEqual([
      'passed',
      'failed',
      'passed',
    ])
    const failure = r.results.testResults[0]?.assertionResults[1]?.failureMessages.join('\n')
    expect(failure).toContain('ns-isolated: this test exceeded memory cap 256 MiB')
    const file = r.usage?.files[0]
    const figures = (file?.tests ?? []) as unknown as {
      name: string
      exact?: boolean
      oomKills?: number
      cpuMs: number | null
      memoryPeakBytes: number | null
      pidsPeak: number | null
    }[]
    expect(figures.map((t) => [t.name, t.exact, t.oomKills])).toEqual([
      ['calm before', true, 0],
      ['memory hog', true, 1],
      ['calm after', true, 0],
    ])
    for (const t of figures) {
      expect(t.cpuMs).toBeGreaterThan(0)
      expect(t.pidsPeak).toBeGreaterThan(0)
    }
    const peak = (name: string) => figures.find((t) => t.name === name)?.memoryPeakBytes ?? 0
    // the hog's sandbox reached the cap; its neighbours' peaks are theirs, far below it
    expect(peak('memory hog')).toBeGreaterThan(200 * 2 ** 20)
    expect(peak('calm after')).toBeLessThan(peak('memory hog') / 2)
    expect(file?.oomKills).toBe(1)
    // the table marks them exact
    expect(r.stderr).toContain("exact: the test's own sandbox (isolation 'test')")
  })

  it('reports a file as stock Jest does: names, order, statuses, counts, console, failures (.each, .skip, .todo, duplicate names, expect.assertions, a failing beforeAll, concurrent)', async () => {
    const p = copy('per-test-parity')
    const stock = await runJest(p, [...STOCK, 'tree'])
    const isolated = await runJest(p, ['tree'])
    expect(stock.code, output(stock)).toBe(1)
    expect(isolated.code, output(isolated)).toBe(1)
    expect(tests(isolated)).toEqual(tests(stock))
    expect(counts(isolated)).toEqual(counts(stock))
    expect(counts(isolated)).toMatchObject({
      numPassedTests: 10,
      numFailedTests: 5,
      numPendingTests: 2,
      numTodoTests: 1,
    })
    // The whole of Jest's output alike: each console line once, in test order, with its origin; the failures.
    expect(text(isolated)).toEqual(text(stock))
    expect(text(isolated)).toContain('module scope')
    // one sandbox per test stock Jest runs, no more
    expect(isolated.usage?.files[0]?.tests).toHaveLength(15)
  })

  it('-t, .only, retries, a buffered console, --randomize: as stock Jest', async () => {
    const p = copy('per-test-parity')
    // (--verbose=false: the console buffered and printed after the file, not written as it logs)
    for (const args of [['tree', '-t', 'outer|same'], ['tree', '--verbose=false'], ['only'], ['retry']]) {
      const stock = await runJest(p, [...STOCK, ...args])
      const isolated = await runJest(p, args)
      expect(isolated.code, output(isolated)).toBe(stock.code)
      expect(tests(isolated), args.join(' ')).toEqual(tests(stock))
      expect(counts(isolated)).toEqual(counts(stock))
      expect(text(isolated)).toEqual(text(stock))
      if (args[0] === 'tree') expect(text(isolated)).toContain('module scope')
    }
    // --randomize: each sandbox's circus shuffles with the seed; the results come in stock's order
    // (the console, printed per sandbox, in the tests' tree order: docs/how-it-works.md)
    // (-t: four sandboxes, not eighteen; seed 7 runs them in an order other than the tree's)
    const args = ['tree', '-t', 'outer|same', '--randomize', '--seed=7']
    const stock = await runJest(p, [...STOCK, ...args])
    const isolated = await runJest(p, args)
    expect(isolated.code, output(isolated)).toBe(stock.code)
    expect(tests(isolated)).toEqual(tests(stock))
    expect(counts(isolated)).toEqual(counts(stock))
  }, 300_000)

  it('snapshots: written, checked, obsolete when no test took them, -u, as stock Jest', async () => {
    const stockP = copy('per-test-parity')
    const isoP = copy('per-test-parity')
    const snap = '__snapshots__/snap.test.js.snap'
    // [args, env, obsolete snapshots reported]
    const steps: [string[], NodeJS.ProcessEnv, number][] = [
      [[], {}, 0], // written
      [['-t', 'one'], {}, 0], // the others skipped: not obsolete
      [[], { DROP_THREE: '1' }, 1], // three's snapshot obsolete
      [['-u'], { DROP_THREE: '1' }, 1], // and removed
      [[], { DROP_THREE: '1', DROP_HINT: '1' }, 1], // a snapshot its own test no longer takes: obsolete
      [['-u'], { DROP_THREE: '1', DROP_HINT: '1' }, 1],
      [[], { SNAP_VALUE: 'second' }, 0], // three's is new again; one mismatches
      [['-u'], { SNAP_VALUE: 'second' }, 0], // updated
    ]
    for (const [args, env, obsolete] of steps) {
      const stock = await runJest(stockP, [...STOCK, 'snap', ...args], env)
      const isolated = await runJest(isoP, ['snap', ...args], env)
      const step = `${args.join(' ')} ${JSON.stringify(env)}`
      expect(isolated.code, `${step}\n${output(isolated)}`).toBe(stock.code)
      const { filesRemovedList: _a, ...summary } = isolated.results.snapshot as unknown as Record<string, unknown>
      const { filesRemovedList: _b, ...stockSummary } = stock.results.snapshot as unknown as Record<string, unknown>
      expect(JSON.parse(JSON.stringify(summary).replaceAll(isoP.dir, '<dir>')), step).toEqual(
        JSON.parse(JSON.stringify(stockSummary).replaceAll(stockP.dir, '<dir>')),
      )
      const inDir = (r: JestRun, dir: string) => JSON.parse(JSON.stringify(tests(r)).replaceAll(dir, '<dir>'))
      expect(inDir(isolated, isoP.dir), step).toEqual(inDir(stock, stockP.dir))
      expect(isoP.read(snap), step).toEqual(stockP.read(snap))
      // Jest 29 itself reads a skipped test's hinted snapshot as obsolete (Jest 30 does not): as stock, above.
      const jest29 = jestMajor() < 30 && args.includes('-t') ? 1 : 0
      expect(summary.unchecked, step).toBe(obsolete + jest29)
      if (env.DROP_HINT && args.includes('-u')) expect(isoP.read(snap)).not.toContain('hint')
    }
    expect(isoP.read(snap)).toContain('"value": "second"')
  }, 600_000)

  it.each(['babel', 'v8'])(
    "coverage (%s): the tests' sandboxes' maps merged cover what stock Jest's run covers",
    async (provider) => {
      const p = copy('per-test-parity')
      const args = ['cover', '--coverage', '--coverageReporters=json', `--coverageProvider=${provider}`]
      const covered = () => {
        const map = JSON.parse(readFileSync(join(p.dir, 'coverage', 'coverage-final.json'), 'utf8')) as Record<
          string,
          {
            s: Record<string, number>
            f: Record<string, number>
            b: Record<string, number[]>
            statementMap: Record<string, { start: { line: number } }>
          }
        >
        const file = Object.values(map)[0]
        if (!file) return undefined
        // hit or not (a file's module scope runs once per test here, so the counts are higher)
        const hit = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v > 0]))
        return {
          s: hit(file.s),
          f: hit(file.f),
          b: Object.fromEntries(Object.entries(file.b).map(([k, v]) => [k, v.map((n) => n > 0)])),
          lines: [
            ...new Set(Object.entries(file.s).flatMap(([k, n]) => (n > 0 ? [file.statementMap[k]?.start.line] : []))),
          ],
        }
      }
      const stock = await runJest(p, [...STOCK, ...args])
      expect(stock.code, output(stock)).toBe(0)
      const fromStock = covered()
      const isolated = await runJest(p, args)
      expect(isolated.code, output(isolated)).toBe(0)
      expect(covered()).toEqual(fromStock)
      // both tests' code is in: the merge, not one sandbox's map (line 3 runs only in the second test)
      expect(fromStock?.lines).toEqual(expect.arrayContaining([2, 3]))
      expect(fromStock?.lines).not.toContain(4)
      if (provider === 'babel') {
        expect(fromStock?.b).toMatchObject({ '0': [true, true], '1': [true, false] })
        expect(fromStock?.f).toMatchObject({ '0': true, '1': false })
      }
    },
  )
})
