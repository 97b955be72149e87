/**
 * From what a sandboxed file run gave back (the TestResult, the
 * environment's figures, the sandbox's result or cgroup deltas) to what Jest
 * sees: the file's usage report attached to its TestResult, and the
 * policies applied — a file that hit a cap fails saying which cap and by how
 * much; with `leaks: 'fail'` the test that started a leaked process fails.
 */
import { relative } from 'node:path'
import type { TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import { type CapHit, capHitMessage, capsHit, junitProperties, LEAKS_UNKNOWN, type SandboxResult } from 'ns-isolated'
import { requireFromJestRunner } from '../jest-modules'
import type { FileMessage, InsideLeak } from '../messages'
import type { JestOptions } from '../options'
import { type JestFileReport, type LeakReport, RESULT_KEY, testName } from '../report'
import type { FileRun } from './sandbox-worker'

export const messageUtil = requireFromJestRunner()('jest-message-util') as {
  formatResultsErrors(
    results: TestResult['testResults'],
    config: Config.ProjectConfig,
    options: { noStackTrace: boolean },
    testPath?: string,
  ): string | null
  formatExecError(
    error: { message: string; stack?: string | null },
    config: Config.ProjectConfig,
    options: { noStackTrace: boolean },
    testPath?: string,
    reuseMessage?: boolean,
  ): string
}

function leakReport(l: InsideLeak): LeakReport {
  return l.test ? { pid: l.pid, command: l.command, test: testName(l.test) } : { pid: l.pid, command: l.command }
}

/**
 * One list, each pid once: what the environment killed at the file's end
 * (with the test the tracker read it as), and what PID 1 found when the
 * worker had exited (named by its final command, and by the test marker in
 * its environment: a process forked after the tracker's last look).
 */
function mergeLeaks(inside: FileMessage | undefined, pid1: SandboxResult['leaked']): LeakReport[] {
  const names = new Map((inside?.tests ?? []).map((t) => [t.marker, testName(t.path)]))
  const byPid = new Map<number, LeakReport>()
  for (const l of inside?.leaked ?? []) byPid.set(l.pid, leakReport(l))
  for (const l of pid1) {
    const test = (l.test === undefined ? undefined : names.get(l.test)) ?? byPid.get(l.pid)?.test
    byPid.set(l.pid, test ? { pid: l.pid, command: l.command, test } : { pid: l.pid, command: l.command })
  }
  return [...byPid.values()]
}

/** The file's report, fresh mode: its own sandbox's final figures. */
export function freshReport(file: string, run: FileRun, r: SandboxResult, rootDir: string): JestFileReport {
  const inside = run.inside
  const u = r.usage
  const leaked = mergeLeaks(inside, r.leaked)
  const memoryPeak =
    u.source === 'rusage' ? maxOrNull(u.memoryPeakBytes, inside?.memoryPeakBytes ?? null) : u.memoryPeakBytes
  const report: JestFileReport = {
    file: relative(rootDir, file) || file,
    wallMs: r.wallMs,
    cpuUserMs: u.cpuUserMs,
    cpuSystemMs: u.cpuSystemMs,
    memoryPeakBytes: memoryPeak,
    memoryPeakIncludesCache: u.source === 'cgroup' && u.memoryPeakIncludesCache,
    pidsPeak: u.pidsPeak ?? inside?.pidsPeak ?? null,
    oomKills: u.oomKills,
    source: u.source,
    capsEnforced: r.caps.enforced,
    leaked,
    writes: r.writes,
    tests: testsOf(run, leaked),
    isolation: 'fresh',
    sandbox: r.hostname,
  }
  const [hit] = r.caps.hit
  if (hit) report.capHit = hit
  if (!r.leaksKnown) report.leaksUnknown = LEAKS_UNKNOWN
  return report
}

/** The file's report, reuse mode: deltas of the shared sandbox's cgroup, or the environment's own figures. */
export function reuseReport(
  file: string,
  run: FileRun,
  launch: {
    options: { memory?: number | undefined; pids?: number | undefined }
    cgroup: { enforced: JestFileReport['capsEnforced'] } | null
  },
  rootDir: string,
  wallMs: number,
): JestFileReport {
  const inside = run.inside
  const leaked = (inside?.leaked ?? []).map(leakReport)
  const b = run.cgroupBefore
  const a = run.cgroupAfter
  const delta = (x: number | null | undefined, y: number | null | undefined) =>
    x != null && y != null ? Math.max(0, y - x) : null
  const fromCgroup = a !== undefined && b !== undefined
  const cpuIn = inside?.cpuMs ?? null
  const oomKills = fromCgroup ? Math.max(0, a.oomKills - b.oomKills) : 0
  const report: JestFileReport = {
    file: relative(rootDir, file) || file,
    wallMs,
    cpuUserMs: fromCgroup ? delta(b.cpuUserMs, a.cpuUserMs) : cpuIn,
    cpuSystemMs: fromCgroup ? delta(b.cpuSystemMs, a.cpuSystemMs) : cpuIn === null ? null : 0,
    // cgroup peaks cannot be reset between files: the worker's own peak over the file instead.
    memoryPeakBytes: inside?.memoryPeakBytes ?? null,
    memoryPeakIncludesCache: false,
    pidsPeak: inside?.pidsPeak ?? null,
    oomKills,
    source: fromCgroup ? 'cgroup' : 'rusage',
    capsEnforced: launch.cgroup?.enforced ?? { memory: false, pids: false, cpu: false },
    leaked,
    tests: testsOf(run, leaked),
    isolation: 'reuse',
    sandbox: inside?.sandbox ?? '',
  }
  if (inside?.reset) report.reset = inside.reset
  if (fromCgroup) {
    // The shared cgroup's peak cannot be reset, but when it reached the cap during this file, the file reached it.
    const limit = launch.options.pids
    const crossed = limit !== undefined && a.pidsPeak !== null && b.pidsPeak !== null && b.pidsPeak < limit
    if (crossed && a.pidsPeak !== null && a.pidsPeak >= limit) report.pidsPeak = a.pidsPeak
    const [hit] = capsHit(launch.options, { oomKills, pidsPeak: report.pidsPeak })
    if (hit) report.capHit = hit
  }
  return report
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b
  if (b === null) return a
  return Math.max(a, b)
}

function testsOf(run: FileRun, leaked: LeakReport[]): JestFileReport['tests'] {
  return (run.inside?.tests ?? []).map((t) => {
    const name = testName(t.path)
    const mine = leaked.filter((l) => l.test === name)
    return {
      name,
      wallMs: t.wallMs,
      cpuMs: t.cpuMs,
      pidsStarted: t.pidsStarted,
      ...(mine.length > 0 ? { leaked: mine } : {}),
      memoryPeakBytes: t.memoryPeakBytes,
      pidsPeak: t.pidsPeak,
    }
  })
}

/** The message of a file (or, isolation 'test', a test) that hit a cap. */
export function capMessage(hit: CapHit, what: 'this test file' | 'this test' = 'this test file'): string {
  const lighter = what === 'this test' ? 'the test' : 'the file'
  return capHitMessage(what, hit, `Raise its \`${hit.cap}\` option or make ${lighter} lighter.`)
}

/** Attaches the report and applies the cap and leak policies to a successful run's TestResult. */
export function applyToResult(
  result: TestResult,
  report: JestFileReport,
  options: JestOptions,
  config: Config.ProjectConfig,
  globalConfig: Config.GlobalConfig,
): TestResult {
  ;(result as unknown as Record<string, unknown>)[RESULT_KEY] = report
  // Each test's figures where jest-junit's testCasePropertiesFile (our ./junit) finds them; not
  // enumerable, so Jest's --json and other reporters show each test's result as stock does.
  for (const t of result.testResults) {
    const name = [...t.ancestorTitles, t.title].join(' > ')
    const test = report.tests.find((x) => x.name === name)
    if (test) Object.defineProperty(t, RESULT_KEY, { value: junitProperties(report, test), enumerable: false })
  }
  const execErrors: string[] = []
  let changed = false
  // isolation 'test': the test whose sandbox hit the cap fails (host/per-test.ts), not the file.
  if (report.capHit && report.isolation !== 'test') execErrors.push(capMessage(report.capHit))
  if (options.leaks === 'fail' && report.leaked.length > 0) {
    for (const leak of report.leaked) {
      const text = `ns-isolated: leaked process ${leak.pid} (${leak.command}) was still running when the test file ended (leaks: 'fail'); it was killed.`
      const target = leak.test
        ? result.testResults.find((t) => [...t.ancestorTitles, t.title].join(' > ') === leak.test)
        : undefined
      if (target) {
        if (target.status === 'passed') {
          result.numPassingTests--
          result.numFailingTests++
        }
        target.status = 'failed'
        target.failureMessages.push(text)
        target.failureDetails.push({ message: text })
        changed = true
      } else execErrors.push(`${text} It was started outside any test (beforeAll/afterAll or module scope).`)
    }
  }
  if (execErrors.length > 0) {
    const message = execErrors.join('\n')
    result.testExecError = { message, stack: message }
    changed = true
  }
  if (changed) {
    const opts = { noStackTrace: globalConfig.noStackTrace }
    const parts = [messageUtil.formatResultsErrors(result.testResults, config, opts, result.testFilePath)]
    if (result.testExecError)
      parts.push(messageUtil.formatExecError(result.testExecError, config, opts, result.testFilePath, true))
    result.failureMessage = parts.filter(Boolean).join('\n')
  }
  return result
}
