/**
 * `isolation: 'test'` on the host: one file run as N sandboxed runs, one per
 * test stock Jest would run (sandbox/one-test.ts picks each run's test),
 * merged back into the one TestResult stock Jest would give for the file.
 *
 * - Each test's assertion result comes from its own run; the tests stock
 *   Jest does not run (skip, todo, filtered by `-t` or `.only`) from the
 *   first run, where they were left as they are.
 * - Console: each run kept only its own part (sandbox/one-test.ts), so the
 *   runs' buffers in test order read as stock's.
 * - Snapshots: a run marks the snapshots of the tests it skipped as checked
 *   (jest-circus's `_addSnapshotData`), so no run reports them obsolete nor
 *   removes them under `-u`: what a run leaves unchecked is obsolete, as in
 *   stock Jest. Counts add up. The runs of one file follow each other, so they never
 *   write its `.snap` at once.
 * - Coverage: the runs' maps merged (the running Jest's istanbul-lib-coverage,
 *   with which it merges the files' maps); V8 coverage entries concatenated.
 * - A run that crashed, was OOM-killed or hit a cap fails its test alone.
 */
import { relative } from 'node:path'
import type { AssertionResult, TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import type * as IstanbulCoverage from 'istanbul-lib-coverage'
import type { SandboxResult } from 'ns-isolated'
import { requireFromJestReporters } from '../jest-modules'
import type { PlanMessage } from '../messages'
import type { JestFileReport, JestTestReport } from '../report'
import { capMessage, freshReport, messageUtil } from './outcome'
import type { FileRun } from './sandbox-worker'

/** One sandboxed run of a per-test file. */
export interface TestRun {
  run: FileRun
  /** The plan the sandbox sent when its tests started (absent: the file failed before defining its tests). */
  plan: PlanMessage | undefined
  ended: SandboxResult | Error
}

/** How many runs a file needs, from its first run's plan: one per test stock Jest runs, and at least one. */
export function runsNeeded(plan: PlanMessage | undefined): number {
  return Math.max(1, plan?.runnable.length ?? 0)
}

function pathOf(r: AssertionResult): string {
  return JSON.stringify([...r.ancestorTitles, r.title])
}

/** The path of the run's test, and which of the tests with that path it is (names can repeat). */
function targetOf(plan: PlanMessage): { path: string; nth: number } | undefined {
  if (plan.target === null) return undefined
  const at = plan.runnable[plan.target]
  if (at === undefined) return undefined
  const path = JSON.stringify(plan.tests[at])
  let nth = 0
  for (let i = 0; i < at; i++) if (JSON.stringify(plan.tests[i]) === path) nth++
  return { path, nth }
}

function indexOf(results: AssertionResult[], target: { path: string; nth: number }): number {
  let seen = 0
  for (const [i, r] of results.entries()) {
    if (pathOf(r) !== target.path) continue
    if (seen === target.nth) return i
    seen++
  }
  return -1
}

function failed(entry: AssertionResult, message: string): AssertionResult {
  return {
    ...entry,
    status: 'failed',
    failureMessages: [...entry.failureMessages, message],
    failureDetails: [...entry.failureDetails, { message }],
  }
}

/** Why a run gave no result: the cap it hit first, then what jest-worker said. */
function runError(t: TestRun): string {
  const original = t.run.error instanceof Error ? t.run.error.message : String(t.run.error ?? 'no result')
  const hit = t.ended instanceof Error ? undefined : t.ended.caps.hit[0]
  if (t.ended instanceof Error) return `${t.ended.message}\n${original}`
  return hit ? `${capMessage(hit, 'this test')}\n${original}` : original
}

/**
 * The file's TestResult from its runs (`runs[0]` has a result: the caller
 * fails the file as in 'fresh' mode otherwise).
 */
export function mergeResults(
  runs: TestRun[],
  config: Config.ProjectConfig,
  globalConfig: Config.GlobalConfig,
): TestResult {
  const first = runs[0]?.run.result as TestResult
  const plan = runs[0]?.plan
  const entries = [...first.testResults]
  for (const [k, t] of runs.entries()) {
    // Run k ran the k-th test stock Jest runs, as the first run's plan lists them.
    const target = plan ? targetOf({ ...plan, target: k }) : undefined
    if (!target) continue
    const at = indexOf(entries, target)
    if (at < 0) continue
    const own = t.run.result
    const i = own ? indexOf(own.testResults, target) : -1
    if (own && i >= 0 && JSON.stringify(t.plan?.tests) === JSON.stringify(plan?.tests)) {
      let entry = own.testResults[i] as AssertionResult
      const hit = t.ended instanceof Error ? undefined : t.ended.caps.hit[0]
      if (hit) entry = failed(entry, capMessage(hit, 'this test'))
      entries[at] = entry
    } else if (own) {
      const why = own.testExecError ? `\n${own.failureMessage ?? own.testExecError.message}` : ''
      entries[at] = failed(
        entries[at] as AssertionResult,
        `ns-isolated: in this test's sandbox the file defined other tests than in the first (isolation: 'test' runs the file once per test: the tests it defines must not change between runs).${why}`,
      )
    } else entries[at] = failed(entries[at] as AssertionResult, runError(t))
  }

  const results = runs.flatMap((t) => (t.run.result ? [t.run.result] : []))
  const count = (status: string) => entries.filter((e) => e.status === status).length
  const numPendingTests = count('pending')
  const numTodoTests = count('todo')
  const numFailingTests = count('failed')
  const numPassingTests = entries.length - numPendingTests - numTodoTests - numFailingTests
  const last = results[results.length - 1] as TestResult
  const end = last.perfStats.end
  const runtime = end - first.perfStats.start
  const console = results.flatMap((r) => r.console ?? [])
  const withExecError = results.find((r) => r.testExecError)
  const opts = { noStackTrace: globalConfig.noStackTrace }
  const messages = [messageUtil.formatResultsErrors(entries, config, opts, first.testFilePath)]
  if (withExecError) {
    // The unhandled errors' part of that run's message (after its tests' part), as circus wrote it.
    const own = messageUtil.formatResultsErrors(withExecError.testResults, config, opts, first.testFilePath) ?? ''
    const message = withExecError.failureMessage ?? ''
    messages.push(message.startsWith(own) ? message.slice(own.length) : message)
  }
  const failureMessage = messages.filter(Boolean).join('')
  const merged: TestResult = {
    ...first,
    testResults: entries,
    numPassingTests,
    numFailingTests,
    numPendingTests,
    numTodoTests,
    failureMessage: failureMessage === '' ? null : failureMessage,
    console: console.length > 0 ? console : undefined,
    leaks: results.some((r) => r.leaks),
    openHandles: results.flatMap((r) => r.openHandles),
    perfStats: { ...first.perfStats, end, runtime, slow: runtime / 1000 > config.slowTestThreshold },
    skipped: entries.length === numPendingTests,
    snapshot: mergeSnapshots(results),
  }
  if (withExecError?.testExecError) merged.testExecError = withExecError.testExecError
  else delete merged.testExecError
  const memory = results.flatMap((r) => (r.memoryUsage === undefined ? [] : [r.memoryUsage]))
  if (memory.length > 0) merged.memoryUsage = Math.max(...memory)
  const coverage = results.filter((r) => r.coverage)
  if (coverage.length > 0) {
    // Jest's own copy, as its coverage reporter merges the files' maps.
    const { createCoverageMap } = requireFromJestReporters()('istanbul-lib-coverage') as typeof IstanbulCoverage
    const map = createCoverageMap({})
    for (const r of coverage) map.merge(r.coverage as NonNullable<TestResult['coverage']>)
    merged.coverage = map.toJSON()
  }
  const v8 = results.flatMap((r) => r.v8Coverage ?? [])
  if (v8.length > 0) merged.v8Coverage = v8
  return merged
}

function mergeSnapshots(results: TestResult[]): TestResult['snapshot'] {
  const sum = (k: 'added' | 'matched' | 'unmatched' | 'updated') => results.reduce((a, r) => a + r.snapshot[k], 0)
  const fileDeleted = results.some((r) => r.snapshot.fileDeleted)
  // Obsolete: unchecked in any run. Each run marks the snapshots of the tests it skipped as checked, so what one
  // leaves unchecked belongs to no test of the file, or is one its own test no longer takes (as in stock Jest).
  // (Not "in every run": a test's own stale snapshot is unchecked only in its run. Under -u the first run
  // that sees an obsolete snapshot removes it.)
  const unchecked = [...new Set(results.flatMap((r) => r.snapshot.uncheckedKeys))]
  return {
    added: sum('added'),
    fileDeleted,
    matched: sum('matched'),
    unmatched: sum('unmatched'),
    updated: sum('updated'),
    unchecked: fileDeleted ? 0 : unchecked.length,
    uncheckedKeys: unchecked,
  }
}

/**
 * The file's usage report: each test's figures are its own sandbox's, read
 * from its cgroup (or rusage) when it ended — exact from a cgroup, and inclusive of what
 * the sandbox ran besides the test: its worker's start, the file's module
 * scope, the hooks around the test.
 */
export function perTestReport(file: string, runs: TestRun[], rootDir: string, wallMs: number): JestFileReport {
  const reports = runs.flatMap((t) =>
    t.ended instanceof Error ? [] : [{ report: freshReport(file, t.run, t.ended, rootDir), ended: t.ended }],
  )
  const sum = (xs: (number | null)[]) =>
    xs.some((x) => x !== null) ? xs.reduce<number>((a, x) => a + (x ?? 0), 0) : null
  const max = (xs: (number | null)[]) => {
    const known = xs.filter((x): x is number => x !== null)
    return known.length > 0 ? Math.max(...known) : null
  }
  const tests: JestTestReport[] = reports.flatMap(({ report, ended }) =>
    report.tests.map((test) => ({
      ...test,
      cpuMs: sum([ended.usage.cpuUserMs, ended.usage.cpuSystemMs]),
      memoryPeakBytes: ended.usage.memoryPeakBytes,
      pidsPeak: ended.usage.pidsPeak ?? test.pidsPeak ?? null,
      oomKills: ended.usage.oomKills,
      // Exact only where they are a cgroup's (rootless on cgroup v1 they are rusage's), as in the core's report.
      ...(ended.usage.source === 'cgroup' ? { exact: true } : {}),
    })),
  )
  const writes = new Map<string, { path: string; kind: string }>()
  for (const { report } of reports) for (const w of report.writes ?? []) writes.set(w.path, w)
  const one = reports[0]?.report
  const report: JestFileReport = {
    file: relative(rootDir, file) || file,
    wallMs,
    cpuUserMs: sum(reports.map((r) => r.report.cpuUserMs)),
    cpuSystemMs: sum(reports.map((r) => r.report.cpuSystemMs)),
    memoryPeakBytes: max(reports.map((r) => r.report.memoryPeakBytes)),
    memoryPeakIncludesCache: reports.some((r) => r.report.memoryPeakIncludesCache),
    pidsPeak: max(reports.map((r) => r.report.pidsPeak)),
    oomKills: reports.reduce((a, r) => a + r.report.oomKills, 0),
    source: one?.source ?? 'rusage',
    capsEnforced: one?.capsEnforced ?? { memory: false, pids: false, cpu: false },
    leaked: reports.flatMap((r) => r.report.leaked),
    writes: [...writes.values()],
    tests,
    isolation: 'test',
    sandbox: one?.sandbox ?? '',
  }
  const hit = reports.find((r) => r.report.capHit)?.report.capHit
  if (hit) report.capHit = hit
  const unknown = reports.find((r) => r.report.leaksUnknown)?.report.leaksUnknown
  if (unknown) report.leaksUnknown = unknown
  return report
}
