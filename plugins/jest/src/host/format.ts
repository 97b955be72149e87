/**
 * Building and printing the run report (host side), with the core's report
 * module so every front door prints and writes the same thing.
 */
import {
  createRunReport as coreCreateRunReport,
  formatUsageTable as coreFormatUsageTable,
  formatBytes,
  formatMs,
  formatTable,
  type OutputStream,
} from 'ns-isolated'
import type { FileReport, JestFileReport, RunReport } from '../report'

export { formatBytes }

export function createRunReport(files: FileReport[]): RunReport {
  return coreCreateRunReport(files)
}

/**
 * The usage report for Jest's output: the core's file table, then the
 * heaviest tests by CPU (`Infinity`: every test) with the per-test figures
 * Jest adds (peak memory, peak tasks, leaks).
 */
export function formatUsageTable(
  report: RunReport,
  files: JestFileReport[],
  heaviest: number,
  stream: OutputStream = process.stderr,
): string {
  const parts = [coreFormatUsageTable(report, { heaviest: 0, stream }).trimEnd()]
  const tests = files
    .flatMap((f) => f.tests.map((test) => ({ file: f.file, test })))
    .filter((x) => x.test.cpuMs !== null)
    .sort((a, b) => (b.test.cpuMs ?? 0) - (a.test.cpuMs ?? 0))
    .slice(0, heaviest)
  if (tests.length > 0) {
    parts.push(
      formatTable(
        [
          Number.isFinite(heaviest) ? 'heaviest tests' : 'tests',
          'cpu ≈',
          'wall',
          'peak rss ≈',
          'tasks ≈',
          'started',
          'leaked',
        ],
        tests.map(({ file, test }) => [
          `${file} > ${test.name}`,
          formatMs(test.cpuMs),
          formatMs(test.wallMs),
          formatBytes(test.memoryPeakBytes ?? null),
          test.pidsPeak == null ? '–' : String(test.pidsPeak),
          String(test.pidsStarted ?? 0),
          String(test.leaked?.length ?? 0),
        ]),
        { stream, align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'] },
      ),
    )
  }
  return `${parts.join('\n')}\n`
}
