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
    // isolation 'test': a test's figures are its own sandbox's, exact (no ≈); a run that mixes modes says which are.
    const exact = tests.filter((x) => x.test.exact).length
    const all = exact === tests.length
    const mixed = exact > 0 && !all
    const approx = all ? '' : ' ≈'
    parts.push(
      formatTable(
        [
          Number.isFinite(heaviest) ? 'heaviest tests' : 'tests',
          `cpu${approx}`,
          'wall',
          all ? 'peak mem' : 'peak rss ≈',
          `tasks${approx}`,
          'started',
          'leaked',
          ...(mixed ? ['exact'] : []),
        ],
        tests.map(({ file, test }) => [
          `${file} > ${test.name}`,
          formatMs(test.cpuMs),
          formatMs(test.wallMs),
          formatBytes(test.memoryPeakBytes ?? null),
          test.pidsPeak == null ? '–' : String(test.pidsPeak),
          String(test.pidsStarted ?? 0),
          String(test.leaked?.length ?? 0),
          ...(mixed ? [test.exact ? 'yes' : ''] : []),
        ]),
        { stream, align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'] },
      ),
    )
    if (exact > 0)
      parts.push(
        "exact: the test's own sandbox (isolation 'test'): its worker's start, the file's module scope and hooks included",
      )
  }
  return `${parts.join('\n')}\n`
}
