/**
 * The usage report in Vitest's output: after the run, a table of figures
 * per sandboxed file and the heaviest tests, the processes left running
 * (named against the test that started them), the JSON file when
 * `report.json` is set, and, when the project uses Vitest's JUnit reporter,
 * the figures as `<property>`s of each test case.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { createRunReport, type FileReport, formatUsageTable, type RunReport } from 'ns-isolated'
import type { JUnitReporter as JUnitReporterClass, Reporter, TestModule, TestSpecification, Vitest } from 'vitest/node'
import * as vitestNode from 'vitest/node'
import type { ResolvedPluginOptions } from '../options.ts'
import { describeCap } from './caps.ts'
import { fileReport } from './file-report.ts'
import type { RunState } from './run-state.ts'

/** One per Vitest instance, whatever number of plugin instances (projects) there are. */
export class UsageCollector {
  readonly states = new Set<RunState>()
  private collected: Promise<RunReport> | undefined
  readonly options: ResolvedPluginOptions
  readonly vitest: Vitest

  constructor(options: ResolvedPluginOptions, vitest: Vitest) {
    this.options = options
    this.vitest = vitest
  }

  /** A new run starts (watch mode reruns too) with these files. */
  reset(specifications: readonly TestSpecification[]): void {
    this.collected = undefined
    for (const s of this.states) {
      s.reset()
      s.spares.runStarting(specifications)
    }
  }

  /** The run's report, once every sandbox has ended. Shared by the usage and JUnit reporters. */
  collect(testModules: readonly TestModule[]): Promise<RunReport> {
    this.collected ??= this.build(testModules)
    return this.collected
  }

  private async build(testModules: readonly TestModule[]): Promise<RunReport> {
    // Spares no file took are stopped first: nothing of the run outlives its report.
    await Promise.all([...this.states].map((s) => s.spares.drain()))
    await Promise.all([...this.states].map((s) => s.settled()))
    const modules = new Map<string, TestModule>()
    for (const m of testModules) modules.set(`${m.project.name}\0${m.moduleId}`, m)
    const multiProject = new Set(testModules.map((m) => m.project.name)).size > 1
    const files: FileReport[] = []
    for (const s of this.states) {
      for (const record of s.records) {
        const f = fileReport(record, modules, multiProject)
        if (f) files.push(f)
      }
    }
    return createRunReport(files)
  }

  /** Records whose file hit a cap or failed its setup although Vitest saw the file pass. */
  lateFailures(testModules: readonly TestModule[]): string[] {
    const out: string[] = []
    const ok = new Set(testModules.filter((m) => m.ok()).map((m) => `${m.project.name}\0${m.moduleId}`))
    for (const s of this.states) {
      for (const r of s.records) {
        if (!r.capHit) continue
        if (r.files.some((f) => ok.has(`${r.projectName}\0${f}`))) {
          out.push(`ns-isolated: ${r.files.join(', ')} ${describeCap(r.capHit)}`)
        }
      }
    }
    return out
  }
}

export class UsageReporter implements Reporter {
  private readonly collector: UsageCollector

  constructor(collector: UsageCollector) {
    this.collector = collector
  }

  onTestRunStart(specifications: readonly TestSpecification[]): void {
    this.collector.reset(specifications)
  }

  async onTestRunEnd(testModules: readonly TestModule[]): Promise<void> {
    const report = await this.collector.collect(testModules)
    const { options } = this.collector
    const logger = this.collector.vitest.logger
    if (report.files.length > 0 && options.report.table) {
      logger.log(
        `\n ns-isolated usage (${report.files.length} sandboxed file${report.files.length === 1 ? '' : 's'})\n`,
      )
      logger.log(formatUsageTable(report, { heaviest: options.report.heaviest }))
    }
    if (options.leaks !== 'ignore') {
      const leaks = report.files.flatMap((f) => f.leaked.map((l) => ({ f, l })))
      if (leaks.length > 0) {
        logger.log(' ns-isolated: processes left running when their file ended (killed with the sandbox):')
        for (const { f, l } of leaks)
          logger.log(`   ${f.file}${l.test ? ` > ${l.test}` : ''}: pid ${l.pid} \`${l.command}\``)
        logger.log('')
      }
    }
    for (const line of this.collector.lateFailures(testModules)) {
      logger.error(line)
      process.exitCode = 1
    }
    if (options.report.json) {
      const path = resolve(this.collector.vitest.config.root, options.report.json)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`)
    }
  }
}

/** Figures as JUnit properties (Vitest's JUnit reporter writes each test's annotations as `<property>`s). */
function annotate(report: RunReport, testModules: readonly TestModule[]): void {
  const byName = new Map<string, FileReport>()
  for (const f of report.files) for (const t of f.tests) byName.set(t.name, f)
  for (const m of testModules) {
    for (const t of m.children.allTests()) {
      const file = byName.get(t.fullName)
      const test = file?.tests.find((x) => x.name === t.fullName)
      if (!file || !test) continue
      const task = (t as unknown as { task: { annotations: { type: string; message: string }[] } }).task
      const add = (type: string, value: number | string | null) => {
        if (value !== null) task.annotations.push({ type: `ns-isolated.${type}`, message: String(value) })
      }
      add('cpu-ms', test.cpuMs === null ? null : Math.round(test.cpuMs))
      if (test.leaked) add('leaked', test.leaked.map((l) => `${l.pid} ${l.command}`).join('; '))
      add('file.wall-ms', Math.round(file.wallMs))
      add('file.cpu-ms', file.cpuUserMs === null ? null : Math.round((file.cpuUserMs ?? 0) + (file.cpuSystemMs ?? 0)))
      add('file.memory-peak-bytes', file.memoryPeakBytes)
      add('file.pids-peak', file.pidsPeak)
      add('file.oom-kills', file.oomKills)
      if (file.capHit) add('file.cap-hit', `${file.capHit.cap}: ${file.capHit.detail}`)
    }
  }
}

/** Vitest's JUnit reporter class: in `vitest/node` (4.1, 5), or only in `vitest/reporters` (4.0). */
function junitReporterClass(): typeof JUnitReporterClass {
  const fromNode = (vitestNode as { JUnitReporter?: typeof JUnitReporterClass }).JUnitReporter
  if (fromNode) return fromNode
  return (createRequire(import.meta.url)('vitest/reporters') as { JUnitReporter: typeof JUnitReporterClass })
    .JUnitReporter
}

/** Vitest's JUnit reporter, waiting for the sandboxes' figures and adding them as properties first. */
export function junitWithUsage(collector: UsageCollector, options: unknown): Reporter {
  const JUnitReporter = junitReporterClass()
  class JUnitWithUsage extends JUnitReporter {
    override async onTestRunEnd(testModules: readonly TestModule[], ...rest: unknown[]): Promise<void> {
      annotate(await collector.collect(testModules), testModules)
      return (super.onTestRunEnd as (...a: unknown[]) => Promise<void>)(testModules, ...rest)
    }
  }
  return new JUnitWithUsage((options ?? {}) as ConstructorParameters<typeof JUnitReporter>[0])
}
