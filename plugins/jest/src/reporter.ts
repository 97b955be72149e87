/**
 * `reporters: ['default', 'jest-environment-ns-isolated/reporter']` (the
 * preset installs it): the usage report in Jest's output — a table of files
 * and the heaviest tests, the leaked processes with the test that started
 * them, the caps hit — and, when asked, the whole report as JSON.
 *
 * Options (reporter options, or `testEnvironmentOptions.report`; the
 * reporter's own win): `{ json?: string, table?: boolean, heaviest?: number | 'all' }`.
 */
// First: an old Node is refused before the core loads.
import './node-gate'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { AggregatedResult, Test, TestContext, TestResult } from '@jest/test-result'
import type { Config } from '@jest/types'
import { createRunReport, formatUsageTable } from './host/format'
import { resolveReportOptions } from './host/validate'
import type { ReportOptions } from './options'
import { type JestFileReport, RESULT_KEY } from './report'

export default class NsIsolatedReporter {
  readonly #globalConfig: Config.GlobalConfig
  readonly #own: Record<string, unknown>
  #files: JestFileReport[] = []

  constructor(globalConfig: Config.GlobalConfig, options: Record<string, unknown> = {}) {
    this.#globalConfig = globalConfig
    // Validated now, so a mistake stops the run before it starts.
    resolveReportOptions(Object.keys(options).length > 0 ? options : undefined, 'reporter options')
    this.#own = options
  }

  onRunStart(): void {
    this.#files = []
  }

  onTestResult(_test: Test, result: TestResult): void {
    const report = (result as unknown as Record<string, unknown>)[RESULT_KEY] as JestFileReport | undefined
    if (report) this.#files.push(report)
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
    if (this.#files.length === 0) return
    const options = this.#options(contexts)
    const files = [...this.#files].sort((a, b) => a.file.localeCompare(b.file))
    const report = createRunReport(files)
    const out: string[] = []
    if (options.table) {
      out.push('', 'ns-isolated usage', formatUsageTable(report, files, options.heaviest).trimEnd())
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
    if (options.json) {
      const path = resolve(this.#globalConfig.rootDir, options.json)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`)
      if (options.table) out.push('', `ns-isolated: usage report written to ${path}`)
    }
    if (out.length > 0) process.stderr.write(`${out.join('\n')}\n\n`)
  }

  getLastError(): Error | undefined {
    return undefined
  }
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
