// Jest's reporters see isolated files as they see stock ones: the default
// reporter, --verbose, --json and jest-junit give the same output as stock
// Jest (timings aside), and the usage report is still printed after it.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, type RawRun, runJestRaw, withoutUsage } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

let runs = 0
/** Both files in parallel workers, each run with a fresh cache (so stock Jest never switches to in band). */
async function run(q: Project, config: string, args: string[] = []): Promise<RawRun> {
  const r = await runJestRaw(q, ['-c', config, `--cacheDirectory=.cache-${++runs}`, '--maxWorkers=2', ...args])
  expect(r.code, output(r)).toBe(1) // mixed.test.js has a failing test
  return r
}

/** The default reporter's text, timings blanked, one block per file sorted (parallel files finish in any order). */
function text(stderr: string): string[] {
  const blocks = withoutUsage(stderr)
    // Whether a worker outlives workerGracefulExitTimeout is the machine's timing, stock or isolated.
    .replace(/\n+A worker process has failed to exit gracefully[^\n]*/g, '')
    // A file's own time follows PASS/FAIL only when it ran slow (slowTestThreshold): the machine's load, either side.
    .replace(/^((?:PASS|FAIL) \S+) \(\d+(\.\d+)? m?s\)$/gm, '$1')
    .replace(/\(\d+(\.\d+)? m?s\)/g, '(N ms)')
    .replace(/^Time:.*$/m, 'Time: N')
    .split(/\n(?=PASS |FAIL |Test Suites:)/)
    .map((b) => b.trim())
  const summary = blocks.pop() as string
  return [...blocks.sort(), summary]
}

/** Jest's JSON, timings and start times zeroed, files sorted. */
function json(stdout: string): unknown {
  const data = JSON.parse(stdout) as { startTime: number; testResults: Record<string, unknown>[] }
  const zero = (o: unknown): unknown => {
    if (Array.isArray(o)) return o.map(zero)
    if (o && typeof o === 'object')
      return Object.fromEntries(
        Object.entries(o).map(([k, v]) => [k, /^(startTime|endTime|duration|startAt)$/.test(k) ? 0 : zero(v)]),
      )
    return o
  }
  const z = zero(data) as typeof data
  z.testResults.sort((a, b) => String(a.name).localeCompare(String(b.name)))
  return z
}

/** jest-junit's XML, times and timestamps blanked, test suites sorted (parallel files finish in any order). */
function junit(xml: string): string[] {
  return xml
    .replace(/ (time|timestamp)="[^"]*"/g, ' $1="N"')
    .replace('</testsuites>', '')
    .split(/\n(?=\s*<testsuite )/)
    .map((b) => b.trim())
    .sort()
}

describe('jest: reporters', () => {
  it('default reporter: the same output as stock Jest, then the usage report', async () => {
    p = project('reporters')
    const stock = await run(p, 'jest.stock.config.js')
    const isolated = await run(p, 'jest.config.js')
    expect(text(isolated.stderr)).toEqual(text(stock.stderr))
    expect(isolated.stderr).toMatch(/console\.log\s+a line from the test/)
    expect(isolated.stderr).toMatch(/ns-isolated usage\n[\s\S]*mixed\.test\.js[\s\S]*other\.test\.js/)
  })

  it('--verbose: the same output as stock Jest, then the usage report', async () => {
    p = project('reporters')
    const stock = await run(p, 'jest.stock.config.js', ['--verbose'])
    const isolated = await run(p, 'jest.config.js', ['--verbose'])
    expect(text(isolated.stderr)).toEqual(text(stock.stderr))
    expect(isolated.stderr).toContain('○ skipped is skipped')
    expect(isolated.stderr).toContain('ns-isolated usage')
  })

  it('--json: the same results on stdout as stock Jest; the usage report stays on stderr', async () => {
    p = project('reporters')
    const stock = await run(p, 'jest.stock.config.js', ['--json'])
    const isolated = await run(p, 'jest.config.js', ['--json'])
    expect(json(isolated.stdout)).toEqual(json(stock.stdout))
    expect(isolated.stderr).toContain('ns-isolated usage')
  })

  it('jest-junit: the same XML as stock Jest, next to the usage report', async () => {
    p = project('reporters')
    const stock = await run(p, 'jest.junit.stock.config.js')
    const stockXml = readFileSync(join(p.dir, 'junit.xml'), 'utf8')
    const isolated = await run(p, 'jest.junit.config.js')
    const isolatedXml = readFileSync(join(p.dir, 'junit.xml'), 'utf8')
    expect(isolatedXml).toContain('<testcase classname="outer inner fails"')
    expect(junit(isolatedXml)).toEqual(junit(stockXml))
    expect(text(isolated.stderr)).toEqual(text(stock.stderr))
    expect(isolated.stderr).toContain('ns-isolated usage')
  })
})
