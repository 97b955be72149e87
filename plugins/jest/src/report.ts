/**
 * The usage report of the Jest integration: the core's versioned JSON shape
 * (src/report/schema.ts, `version: 1`), with additive per-test fields that
 * Jest can measure (peak memory, peak tasks). The runner attaches one
 * `JestFileReport` to each file's TestResult; the reporter collects them.
 *
 * The shapes and the table come from the core's report module
 * ('ns-isolated': `createRunReport`, `formatUsageTable`).
 */

import type { FileReport, RunReport, TestReport } from 'ns-isolated'
import type { ResetReport } from './messages'

export type { CapHit, FileReport, LeakReport, RunReport } from 'ns-isolated'

/**
 * A test's report: the core's. Jest also fills `memoryPeakBytes` and
 * `pidsPeak` in the other modes, sampled in the worker (approximate, without
 * `exact`): the worker's peak RSS during the test (VmHWM, reset at the
 * test's start) plus its other processes' RSS at the end, and the most tasks
 * seen.
 */
export type JestTestReport = TestReport

/** Jest additions to a file's report. */
export interface JestFileReport extends FileReport {
  tests: JestTestReport[]
  /** 'fresh': the figures are the file's own sandbox; 'reuse': deltas of a shared sandbox; 'test': the sum of its tests' sandboxes (see docs/jest.md). */
  isolation: 'fresh' | 'reuse' | 'test'
  /** The sandbox's hostname. */
  sandbox: string
  /** What the reuse-mode reset did after this file. */
  reset?: ResetReport
}

/** A file Jest ran without the ns-isolated runner. */
export interface UnsandboxedFile {
  file: string
  /** Why, and the fix: `not sandboxed: project web runs it with the stock jest-runner, …`. */
  reason: string
}

/** The run's report as the reporter writes it (JSON): the core's, plus what Jest adds. */
export interface JestRunReport extends RunReport {
  files: JestFileReport[]
  /** Files of the run that were not sandboxed, with the reason (never silently). */
  unsandboxed: UnsandboxedFile[]
  /** `jest --shard=index/count`: this report is one shard's (`ns-isolated report merge` joins them). */
  shard?: { index: number; count: number }
}

/** The property of a TestResult that carries its file's report. */
export const RESULT_KEY = 'nsIsolated'

export function testName(path: string[]): string {
  return path.join(' > ')
}
