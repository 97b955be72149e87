/**
 * From sandbox records and Vitest's test results to the core's run report
 * (`version: 1`, src/report/schema.ts): one FileReport per sandbox through
 * the core's `fileReportFromResult`, with the tests Vitest ran and the
 * leaks named against the test that started them: PID 1 reports each leak
 * with the test id its environment carries (the worker-side tracker's
 * marker); the tracker's `task.meta.nsIsolated` says what each test left
 * running, for a process started with an environment of its own.
 */
import { relative } from 'node:path'
import {
  type FileReport,
  fileReportFromResult,
  type LeakReport,
  type TestReport,
  type UnsandboxedFile,
} from 'ns-isolated'
import type { TestCase, TestModule } from 'vitest/node'
import { META_KEY } from '../names.ts'
import type { TestMeta } from '../worker/meta.ts'
import type { ResultWithUsage, SandboxRecord } from './run-state.ts'

/** A file's report; `project` is added (an additive field) when the run has several projects. */
export type VitestFileReport = FileReport & { project?: string }

function metaOf(t: TestCase): TestMeta | undefined {
  return (t.meta() as Record<string, unknown>)[META_KEY] as TestMeta | undefined
}

/** The report of one sandbox, or undefined when it has no result (it never started). */
export function fileReport(
  record: SandboxRecord,
  modules: Map<string, TestModule>,
  multiProject: boolean,
): VitestFileReport | undefined {
  const result = record.result
  if (!result || record.unsandboxed) return undefined
  const cases = record.files.flatMap((f) => {
    const m = modules.get(`${record.projectName}\0${f}`)
    return m ? [...m.children.allTests()] : []
  })
  // Each leak once, as PID 1 reported it at the end (by its final command), under the test whose id it
  // carries in its environment (the tracker's marker), else the test the tracker saw leave it running.
  const leftBy = new Map<number, string>()
  for (const t of cases) for (const p of metaOf(t)?.started ?? []) leftBy.set(p.pid, t.id)
  const byTest = new Map<string, LeakReport[]>()
  const ids = new Set(cases.map((t) => t.id))
  for (const l of result.leaked) {
    const marked = l.test?.slice(0, l.test.lastIndexOf('#')) // `<test id>#<attempt>` (worker/track.cts)
    const id = marked !== undefined && ids.has(marked) ? marked : leftBy.get(l.pid)
    if (id !== undefined) byTest.set(id, [...(byTest.get(id) ?? []), { pid: l.pid, command: l.command }])
  }
  const attributed: LeakReport[] = []
  const tests: TestReport[] = cases.map((t) => {
    const meta = metaOf(t)
    const test: TestReport = {
      name: t.fullName,
      wallMs: t.diagnostic()?.duration ?? 0,
      cpuMs: meta ? meta.cpuMs : null,
    }
    if (meta) test.pidsStarted = meta.started.length
    const own = (byTest.get(t.id) ?? []).map((l) => ({ ...l, test: t.fullName }))
    if (own.length > 0) {
      test.leaked = own
      attributed.push(...own)
    }
    return test
  })
  const file = record.files.map((f) => relative(record.root, f)).join(', ') || '(no test file)'
  const report: VitestFileReport = fileReportFromResult({ file, result, tests, attributed })
  if (record.capHit && !report.capHit) report.capHit = record.capHit
  if (record.missingIsolation) report.missingIsolation = record.missingIsolation
  if (multiProject) report.project = record.projectName
  return report
}

/**
 * `isolation: 'test'`: one file's report from its sandboxes, one per test
 * (records of one `perTest.group`): the file's figures over all of them
 * (CPU, wall, OOM kills and leaks summed, peaks the largest), each test's
 * its own sandbox's, exact where they come from its cgroup. Every process a
 * sandbox left is its test's.
 */
export function perTestFileReport(
  records: SandboxRecord[],
  modules: Map<string, TestModule>,
  multiProject: boolean,
): VitestFileReport | undefined {
  const ran = records.filter((r) => r.result !== undefined)
  const first = ran[0]
  if (!first?.result) return undefined
  const byTest = new Map<string, SandboxRecord>()
  for (const r of ran) if (r.perTest?.test !== undefined) byTest.set(r.perTest.test, r)
  const cases = first.files.flatMap((f) => {
    const m = modules.get(`${first.projectName}\0${f}`)
    return m ? [...m.children.allTests()] : []
  })
  const leaked: LeakReport[] = []
  const tests: TestReport[] = cases.map((t) => {
    const own = byTest.get(t.id)?.result
    const meta = metaOf(t)
    const test: TestReport = { name: t.fullName, wallMs: t.diagnostic()?.duration ?? 0, cpuMs: null }
    if (!own) return test
    const u = own.usage
    test.cpuMs = u.cpuUserMs === null ? null : u.cpuUserMs + (u.cpuSystemMs ?? 0)
    // Without a cgroup (rootless on cgroup v1) the figures are the sandbox's rusage: not all exact.
    test.exact = u.source === 'cgroup'
    test.memoryPeakBytes = u.memoryPeakBytes
    test.pidsPeak = u.pidsPeak
    test.oomKills = u.oomKills
    if (meta) test.pidsStarted = meta.started.length
    if (own.leaked.length > 0) {
      test.leaked = own.leaked.map((l) => ({ pid: l.pid, command: l.command, test: t.fullName }))
      leaked.push(...test.leaked)
    }
    return test
  })
  // Sandboxes whose test is unknown (the file failed before it was collected) count for the file.
  for (const r of ran)
    if (r.perTest?.test === undefined)
      leaked.push(...(r.result?.leaked ?? []).map((l) => ({ pid: l.pid, command: l.command })))
  const results = ran.map((r) => r.result as ResultWithUsage)
  const sum = (f: (u: ResultWithUsage['usage']) => number | null) => {
    const known = results.map((x) => f(x.usage)).filter((v): v is number => v !== null)
    return known.length === 0 ? null : known.reduce((a, b) => a + b, 0)
  }
  const max = (f: (u: ResultWithUsage['usage']) => number | null) => {
    const known = results.map((x) => f(x.usage)).filter((v): v is number => v !== null)
    return known.length === 0 ? null : Math.max(...known)
  }
  const result: ResultWithUsage = {
    ...first.result,
    wallMs: results.reduce((a, x) => a + x.wallMs, 0),
    leaked: [],
    leaksKnown: results.every((x) => x.leaksKnown),
    writes: results.flatMap((x) => x.writes),
    usage: {
      ...first.result.usage,
      cpuUserMs: sum((u) => u.cpuUserMs),
      cpuSystemMs: sum((u) => u.cpuSystemMs),
      memoryPeakBytes: max((u) => u.memoryPeakBytes),
      pidsPeak: max((u) => u.pidsPeak),
      oomKills: results.reduce((a, x) => a + x.usage.oomKills, 0),
    },
    caps: { ...first.result.caps, hit: results.flatMap((x) => x.caps.hit) },
  }
  const file = first.files.map((f) => relative(first.root, f)).join(', ') || '(no test file)'
  const report: VitestFileReport = fileReportFromResult({ file, result, tests })
  report.leaked = leaked
  const capHit = ran.find((r) => r.capHit)?.capHit
  if (capHit && !report.capHit) report.capHit = capHit
  if (first.missingIsolation) report.missingIsolation = first.missingIsolation
  if (multiProject) report.project = first.projectName
  return report
}

/** The files of a record that ran without a sandbox, each with the reason; none for a sandbox's record. */
export function unsandboxedFiles(record: SandboxRecord, multiProject: boolean): UnsandboxedFile[] {
  const reason = record.unsandboxed
  if (reason === undefined) return []
  return record.files.map((f) => ({
    file: relative(record.root, f),
    reason,
    ...(multiProject ? { project: record.projectName } : {}),
  }))
}
