/**
 * The bridge every front door uses from a finished sandbox to its line in the
 * run report, so the Vitest and Jest integrations and `isolate` report the
 * same figures the same way.
 */
import type { SandboxResult } from '../host/prepare.ts'
import { type FileReport, type LeakReport, type TestReport, usageFields } from './schema.ts'

export interface FileReportInput {
  /** The test file (relative to the project root where possible). */
  file: string
  result: SandboxResult
  tests?: TestReport[]
  /** Leaks already attributed to tests (by the sandbox-side probe); the rest are reported against the file. */
  attributed?: LeakReport[]
}

/** `FileReport.leaksUnknown` for a sandbox whose PID 1 did not report (its result's `leaksKnown` false). */
export const LEAKS_UNKNOWN =
  'its PID 1 did not report what was left running (the sandbox was killed first, or PID 1 could not list them)'

/** One file's report from its sandbox's result. */
export function fileReportFromResult({ file, result, tests = [], attributed = [] }: FileReportInput): FileReport {
  const named = new Map(attributed.map((l) => [l.pid, l]))
  const leaked: LeakReport[] = result.leaked.map((l) => named.get(l.pid) ?? { pid: l.pid, command: l.command })
  const report: FileReport = {
    file,
    wallMs: result.wallMs,
    ...usageFields(result.usage),
    capsEnforced: result.caps.enforced,
    leaked,
    writes: result.writes,
    tests,
  }
  const hit = result.caps.hit[0]
  if (hit) report.capHit = hit
  if (!result.leaksKnown) report.leaksUnknown = LEAKS_UNKNOWN
  return report
}
