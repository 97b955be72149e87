/**
 * The usage report in Vitest's output: after the run, a table of figures
 * per sandboxed file and the heaviest tests, the processes left running
 * (named against the test that started them), the JSON file when
 * `report.json` is set, and, when the project uses Vitest's JUnit reporter,
 * the figures as `<property>`s of each test case.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, relative, resolve } from 'node:path'
import {
  createRunReport,
  type FileReport,
  formatUsageHeadline,
  formatUsageTable,
  junitProperties,
  type RunReport,
  type UnsandboxedFile,
} from 'ns-isolated'
import type {
  JUnitReporter as JUnitReporterClass,
  Reporter,
  TestModule,
  TestProject,
  TestSpecification,
  Vitest,
} from 'vitest/node'
import * as vitestNode from 'vitest/node'
import { META_KEY } from '../names.ts'
import type { ResolvedPluginOptions } from '../options.ts'
import { fileReport, perTestFileReport, unsandboxedFiles } from './file-report.ts'
import type { RunState, SandboxRecord } from './run-state.ts'

/**
 * What the report holds for one test module. The blob reporter carries it in
 * the module's task meta (under the same key as the tests' figures), so
 * `vitest --merge-reports` prints one report for every shard's files.
 */
export interface ModuleUsage {
  file?: FileReport
  unsandboxed?: UnsandboxedFile
}

function taskMeta(m: TestModule): Record<string, unknown> {
  return (m as unknown as { task: { meta: Record<string, unknown> } }).task.meta
}

/** One per Vitest instance, whatever number of plugin instances (projects) there are. */
export class UsageCollector {
  readonly states = new Set<RunState>()
  /** Projects the plugin is on for that keep a pool it cannot stand in for (vmThreads, …): their files run unsandboxed. */
  readonly ownPool = new Map<TestProject, string>()
  /** The last report's part of each test module (a sandbox of several files: on its first). */
  readonly perModule = new Map<TestModule, ModuleUsage>()
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
    const unsandboxed: UnsandboxedFile[] = []
    this.perModule.clear()
    const covered = new Set<TestModule>()
    for (const s of this.states) {
      // isolation 'test': a file's sandboxes (one per test) make one file report, at its first's place.
      const groups = new Map<object, SandboxRecord[]>()
      for (const record of s.records) {
        if (!record.perTest) continue
        const group = groups.get(record.perTest.group)
        if (group) group.push(record)
        else groups.set(record.perTest.group, [record])
      }
      for (const record of s.records) {
        for (const f of record.files) {
          const m = modules.get(`${record.projectName}\0${f}`)
          if (m) covered.add(m)
        }
        const group = record.perTest && groups.get(record.perTest.group)
        if (group && group[0] !== record) continue
        const first = modules.get(`${record.projectName}\0${record.files[0]}`)
        const f = group ? perTestFileReport(group, modules, multiProject) : fileReport(record, modules, multiProject)
        if (f) {
          files.push(f)
          if (first) this.perModule.set(first, { file: f })
        }
        for (const [i, u] of unsandboxedFiles(record, multiProject).entries()) {
          unsandboxed.push(u)
          const m = modules.get(`${record.projectName}\0${record.files[i]}`)
          if (m) this.perModule.set(m, { unsandboxed: u })
        }
      }
    }
    for (const m of testModules) {
      const pool = this.ownPool.get(m.project)
      if (pool !== undefined) {
        const u = {
          file: relative(m.project.config.root, m.moduleId),
          reason: `pool ${pool}: not sandboxed, see docs/vitest.md#limits`,
          ...(multiProject ? { project: m.project.name } : {}),
        }
        unsandboxed.push(u)
        this.perModule.set(m, { unsandboxed: u })
      } else if (!covered.has(m)) {
        // A module no worker of this process ran: replayed from a blob (--merge-reports), with its figures.
        const carried = taskMeta(m)[META_KEY] as ModuleUsage | undefined
        if (carried?.file) files.push(carried.file)
        if (carried?.unsandboxed) unsandboxed.push(carried.unsandboxed)
      }
    }
    return createRunReport(files, unsandboxed)
  }

  /** Records whose file hit a cap or failed its setup although Vitest saw the file pass. */
  lateFailures(testModules: readonly TestModule[]): string[] {
    const out: string[] = []
    const ok = new Set(testModules.filter((m) => m.ok()).map((m) => `${m.project.name}\0${m.moduleId}`))
    for (const s of this.states) {
      for (const r of s.records) {
        if (!r.capHit) continue
        if (r.files.some((f) => ok.has(`${r.projectName}\0${f}`))) {
          out.push(`ns-isolated: ${r.files.join(', ')} ${r.capHit.detail}`)
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
    if ((report.files.length > 0 || (report.unsandboxed?.length ?? 0) > 0) && options.report.table) {
      logger.log(`\n ${formatUsageHeadline(report)}\n`)
      logger.log(
        formatUsageTable(report, {
          heaviest: options.report.heaviest,
          // A terminal (a tty.WriteStream) has its width and colours; any other stream gets neither.
          stream: logger.outputStream as Partial<NodeJS.WriteStream>,
        }),
      )
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
      for (const [type, message] of Object.entries(junitProperties(file, test)))
        task.annotations.push({ type, message })
    }
  }
}

/** A reporter class whose `onTestRunEnd` is a method (so a subclass can override it). */
type ReporterClass = new (
  options: unknown,
) => { onTestRunEnd(testModules: readonly TestModule[], ...rest: unknown[]): Promise<void> }

/** Vitest's blob reporter class (`ReportersMap.blob`: the class itself is not exported). */
function blobReporterClass(): ReporterClass {
  type Map = { ReportersMap?: Record<string, ReporterClass | undefined> }
  const fromNode = (vitestNode as unknown as Map).ReportersMap?.blob
  if (fromNode) return fromNode
  const fromReporters = (createRequire(import.meta.url)('vitest/reporters') as Map).ReportersMap?.blob
  if (!fromReporters) throw new Error("ns-isolated: this Vitest has no 'blob' reporter to carry the usage figures.")
  return fromReporters
}

/**
 * Vitest's blob reporter (`--reporter=blob`, a shard's results), waiting
 * for the sandboxes' figures and leaving each file's in its task meta
 * first: the blob keeps task meta, so `--merge-reports` gets them back.
 */
export function blobWithUsage(collector: UsageCollector, options: unknown): Reporter {
  const BlobReporter = blobReporterClass()
  class BlobWithUsage extends BlobReporter {
    override async onTestRunEnd(testModules: readonly TestModule[], ...rest: unknown[]): Promise<void> {
      await collector.collect(testModules)
      for (const [m, usage] of collector.perModule) taskMeta(m)[META_KEY] = usage
      return super.onTestRunEnd(testModules, ...rest)
    }
  }
  return new BlobWithUsage(options ?? {}) as Reporter
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
