/**
 * `reporters: ['default', 'jest-environment-ns-isolated/reporter']` (the
 * preset installs it): the usage report in Jest's output — a table of files
 * and the heaviest tests, the leaked processes with the test that started
 * them, the caps hit — and, when asked, the whole report as JSON.
 *
 * Every file of the run is accounted for: a file Jest ran without the
 * ns-isolated runner (a project of `projects` that keeps the stock runner)
 * is listed as not sandboxed, with the reason, and the closing line counts
 * the files sandboxed, run without namespaces (`fallback: 'subreaper'`, the
 * reason on each) and not sandboxed.
 *
 * Options (reporter options, or `testEnvironmentOptions.report`; the
 * reporter's own win): `{ json?: string, table?: boolean, heaviest?: number | 'all' }`.
 * `{shard}` in the json path becomes `i-n` under `jest --shard=i/n` (`1-1`
 * without), so the shards of one machine write apart; `ns-isolated report
 * merge` makes them one report.
 */
// First: an old Node is refused before the core loads.
import './node-gate'
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import type { AggregatedResult, Test, TestContext, TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import { describeMissingIsolation } from 'ns-isolated'
import { createRunReport, formatUsageTable } from './host/format'
import { resolveReportOptions } from './host/validate'
import type { ReportOptions } from './options'
import { type JestFileReport, type JestRunReport, RESULT_KEY, type UnsandboxedFile } from './report'

const OUR_RUNNER = realpath(join(__dirname, 'runner.js'))

function realpath(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return p
  }
}

export default class NsIsolatedReporter {
  readonly #globalConfig: Config.GlobalConfig
  readonly #own: Record<string, unknown>
  #files: JestFileReport[] = []
  #unsandboxed: UnsandboxedFile[] = []

  constructor(globalConfig: Config.GlobalConfig, options: Record<string, unknown> = {}) {
    this.#globalConfig = globalConfig
    // Validated now, so a mistake stops the run before it starts.
    resolveReportOptions(Object.keys(options).length > 0 ? options : undefined, 'reporter options')
    this.#own = options
  }

  onRunStart(): void {
    this.#files = []
    this.#unsandboxed = []
  }

  onTestResult(test: Test, result: TestResult): void {
    const report = (result as unknown as Record<string, unknown>)[RESULT_KEY] as JestFileReport | undefined
    if (report) {
      this.#files.push(report)
      return
    }
    // Our runner's files without a report failed before or while their sandbox started: the failure says why.
    const config = test.context.config
    if (realpath(config.runner) === OUR_RUNNER) return
    const project = config.displayName?.name ?? (relative(this.#globalConfig.rootDir, config.rootDir) || '.')
    this.#unsandboxed.push({
      file: relative(this.#globalConfig.rootDir, test.path) || test.path,
      reason: `not sandboxed: project ${project} runs it with ${runnerName(config.runner)}, not the ns-isolated runner (docs/jest.md#only-some-files)`,
    })
  }

  #options(contexts: Set<TestContext>): ReportOptions {
    if (Object.keys(this.#own).length > 0) return resolveReportOptions(this.#own, 'reporter options')
    for (const c of contexts) {
      const r = c.config.testEnvironmentOptions?.report
      if (r !== undefined) return resolveReportOptions(r)
    }
    return resolveReportOptions(undefined)
  }

  onRunComplete(contexts: Set<TestContext>, _results: AggregatedResult): void {
    if (this.#files.length === 0 && this.#unsandboxed.length === 0) return
    const options = this.#options(contexts)
    const files = [...this.#files].sort((a, b) => a.file.localeCompare(b.file))
    const unsandboxed = [...this.#unsandboxed].sort((a, b) => a.file.localeCompare(b.file))
    const shard = this.#globalConfig.shard
    const report: JestRunReport = {
      ...createRunReport(files),
      files,
      unsandboxed,
      ...(shard ? { shard: { index: shard.shardIndex, count: shard.shardCount } } : {}),
    }
    const out: string[] = []
    if (options.table && files.length > 0) {
      // The table names the isolation a file ran without under its name (missingIsolation).
      out.push('', 'ns-isolated usage', formatUsageTable(createRunReport(files), files, options.heaviest).trimEnd())
    }
    const leaks = groupLeaks(files)
    if (leaks.total > 0 && options.table) {
      out.push('', `ns-isolated: ${leaks.total} leaked process${leaks.total === 1 ? '' : 'es'} (killed):`)
      out.push(...leaks.lines)
    }
    const hits = files.filter((f) => f.capHit)
    if (hits.length > 0 && options.table) {
      out.push('', 'ns-isolated: caps hit:')
      for (const f of hits) out.push(`  ${f.file}: ${f.capHit?.detail}`)
    }
    const kept = files.filter((f) => f.reset && !f.reset.rootReset && f.reset.writes.length > 0)
    if (kept.length > 0 && options.table) {
      out.push('', 'ns-isolated (reuse): writes outside /tmp that later files of the same worker saw (never the host):')
      for (const f of kept) {
        const w = f.reset?.writes ?? []
        out.push(
          `  ${f.file}: ${w.slice(0, 5).join(', ')}${w.length > 5 ? ', …' : ''} (no root reset: ${f.reset?.rootResetError})`,
        )
      }
    }
    if (unsandboxed.length > 0 && options.table) {
      out.push('', `ns-isolated: ${unsandboxed.length} file${unsandboxed.length === 1 ? '' : 's'} not sandboxed:`)
      for (const u of unsandboxed) out.push(`  ${u.file}: ${u.reason}`)
    }
    // The closing line, last in the report's block (tools that cut the report out stop after it).
    if (options.table) out.push('', summaryLine(files, unsandboxed))
    if (options.json) {
      const name = options.json.replaceAll('{shard}', shard ? `${shard.shardIndex}-${shard.shardCount}` : '1-1')
      const path = resolve(this.#globalConfig.rootDir, name)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`)
      if (options.table) out.push(`ns-isolated: usage report written to ${path}`)
    }
    if (out.length > 0) process.stderr.write(`${out.join('\n')}\n\n`)
  }

  getLastError(): Error | undefined {
    return undefined
  }
}

/** `jest-runner` for the stock runner's path, else the path as configured. */
function runnerName(runner: string): string {
  return /[\\/]jest-runner[\\/]build[\\/]index\.js$/.test(runner) ? 'the stock jest-runner' : runner
}

/** What the run isolated, every file counted: `ns-isolated: 12 files sandboxed, 2 without namespaces (seccomp), 1 not sandboxed`. */
function summaryLine(files: JestFileReport[], unsandboxed: UnsandboxedFile[]): string {
  const plural = (n: number) => `${n} file${n === 1 ? '' : 's'}`
  const parts = [`${plural(files.filter((f) => !f.missingIsolation).length)} sandboxed`]
  const missing = new Map<string, number>()
  for (const f of files) {
    if (!f.missingIsolation) continue
    const what = describeMissingIsolation(f)
    missing.set(what, (missing.get(what) ?? 0) + 1)
  }
  for (const [what, n] of missing) parts.push(`${n} ${what.replace(/^no /, 'without ')}`)
  parts.push(`${unsandboxed.length} not sandboxed`)
  return `ns-isolated: ${parts.join(', ')}`
}

/** One line per file, test and command: a fork bomb is one line, not hundreds. */
function groupLeaks(files: JestFileReport[]): { total: number; lines: string[] } {
  const groups = new Map<string, number[]>()
  let total = 0
  for (const f of files) {
    for (const l of f.leaked) {
      total++
      const key = `${f.file}${l.test ? ` > ${l.test}` : ' (outside any test)'}: ${l.command}`
      groups.set(key, [...(groups.get(key) ?? []), l.pid])
    }
  }
  const lines = [...groups].map(
    ([key, pids]) =>
      `  ${key} — ${pids.length === 1 ? `pid ${pids[0]}` : `${pids.length} processes (pids ${pids.slice(0, 5).join(', ')}${pids.length > 5 ? ', …' : ''})`}`,
  )
  return { total, lines }
}
