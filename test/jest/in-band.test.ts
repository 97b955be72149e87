// Jest runs "in band" in its own process for one file, --runInBand and
// maxWorkers 1; the runner still forks every isolated file into a sandbox.
// A file whose docblock names another environment is isolated all the same.
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

describe('jest: in-band cases still isolate', () => {
  for (const args of [
    ['one.test.js'],
    ['--runInBand', 'one', 'two'],
    ['--maxWorkers=1', 'one', 'two'],
    ['-i', 'one'],
  ]) {
    it(`jest ${args.join(' ')}`, async () => {
      p = project('plain')
      const r = await runJest(p, args)
      expect(r.code, output(r)).toBe(0)
      expect(r.results.numPassedTests).toBe(args.includes('two') ? 2 : 1)
      expect(r.usage?.files.length).toBe(args.includes('two') ? 2 : 1)
    })
  }

  it('a file whose docblock names the node environment is isolated too', async () => {
    p = project('plain')
    const r = await runJest(p)
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(3)
    expect(r.usage?.files.map((f) => f.file).sort()).toEqual(['mixed.test.js', 'one.test.js', 'two.test.js'])
  })
})

describe('jest: a fresh sandbox ends with its file', () => {
  it('a handle left open does not hold the sandbox for workerGracefulExitTimeout (ended at once, as stock restarts a worker)', async () => {
    // A graceful end would wait the whole timeout (24 days): the run would not end before this test's timeout.
    p = project('plain', {
      'jest.config.js': `module.exports = { preset: 'jest-environment-ns-isolated', workerGracefulExitTimeout: ${2 ** 31 - 1}, testEnvironmentOptions: { isolation: 'fresh', report: { json: 'usage.json' } } }\n`,
      'open.test.js': "test('leaves a timer', () => { setInterval(() => {}, 1000); expect(1).toBe(1) })\n",
    })
    const r = await runJest(p, ['--maxWorkers=2', 'open', 'one'])
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    expect(r.usage?.files.map((f) => f.file).sort()).toEqual(['one.test.js', 'open.test.js'])
  })
})
