// --bail ends an isolated run where it ends a stock one: the same files run,
// the same summary, the same exit code; and ending it mid-run leaves no
// sandbox (nor anything a test started) behind.
import { afterEach, describe, expect, it } from 'vitest'
import { pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { eventually, output, type Project, pidsWithEnv, project, type RawRun, runJestRaw } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

/** The files Jest reported (in order) and its summary lines. */
function outcome(r: RawRun) {
  const lines = r.stderr.split('\n')
  return {
    code: r.code,
    files: lines.filter((l) => /^(PASS|FAIL) /.test(l)),
    summary: lines.filter((l) => /^(Test Suites|Tests):/.test(l)),
  }
}

describe('jest: --bail', () => {
  // `--bail` on the command line, `bail: 2` in the config (Jest's CLI takes no count: `--bail=2` is `bail: 0`).
  for (const [name, stockConfig, config, bail] of [
    ['--bail', 'jest.stock.config.js', 'jest.config.js', ['--bail']],
    ['bail: 2', 'jest.bail2.stock.config.js', 'jest.bail2.config.js', []],
  ] as const) {
    it(`${name} with two failing files stops where stock Jest stops`, async () => {
      p = project('bail')
      const files = ['a-fails', 'b-fails', 'c-passes']
      // In band, so that the order (and what runs before the bail) is Jest's sequencer's, not a race.
      const stock = await runJestRaw(p, ['-c', stockConfig, '--cacheDirectory=.cache-stock', ...bail, '-i', ...files])
      const isolated = await runJestRaw(p, ['-c', config, '--cacheDirectory=.cache', ...bail, '-i', ...files])
      expect(outcome(stock).code, output(stock)).toBe(1)
      // bail 1: only the first failing file; bail 2: both failing files, and the passing one never runs
      expect(outcome(stock).files.length, output(stock)).toBe(name === '--bail' ? 1 : 2)
      expect(outcome(isolated), output(isolated)).toEqual(outcome(stock))
      expect(isolated.stderr).toContain('ns-isolated usage')
    })
  }

  it('--bail ends the run while another isolated file still runs, and no sandbox process is left', async () => {
    p = project('bail')
    const args = ['--bail', '--maxWorkers=2', 'a-fails', 'slow-fails']
    const marker = uniqueSleep()
    const run = `bail-${marker}`
    const stockRun = `bail-stock-${marker}`
    let stock: RawRun
    try {
      stock = await runJestRaw(p, ['-c', 'jest.stock.config.js', '--cacheDirectory=.cache-stock', ...args], {
        SLEEP_MARKER: marker,
        NSISO_JEST_RUN: stockRun,
      })
    } finally {
      // stock Jest leaves the slow file's worker and its child running: end them (ours, by pid)
      for (const pid of [...pidsWithEnv('NSISO_JEST_RUN', stockRun), ...pidsWithMarker(marker)]) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
    }
    const isolated = await runJestRaw(p, ['--cacheDirectory=.cache', ...args], {
      SLEEP_MARKER: marker,
      NSISO_JEST_RUN: run,
    })
    expect(outcome(stock).summary, output(stock)).toEqual(['Test Suites: 1 failed, 1 of 2 total', expect.any(String)])
    expect(outcome(isolated), output(isolated)).toEqual(outcome(stock))
    // the sandbox of the file still running died with Jest, and with it the child its test was waiting for
    // (the namespace's processes are killed as its PID 1 exits: polled, as the order of their ends is the kernel's)
    expect(await eventually(() => pidsWithEnv('NSISO_JEST_RUN', run).length === 0)).toBe(true)
    expect(await eventually(() => pidsWithMarker(marker).length === 0)).toBe(true)
  })
})
