// Every file the runner gets is isolated, whatever its test environment:
// node (also when a config's `testEnvironment: 'node'` overrides the
// preset's), jsdom and a custom one, from the config or a docblock. The
// file's own environment runs inside, wrapped by ours (its options reach it;
// the tracker reports what its tests leave running). A file Jest runs
// without our runner is listed as not sandboxed, never silently.
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

describe('jest: every test environment is isolated', () => {
  it("the preset with testEnvironment: 'node', and node, jsdom and a custom environment from docblocks", async () => {
    p = project('environments')
    const r = await runJest(p)
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(5)
    const files = r.usage?.files ?? []
    expect(files.map((f) => f.file).sort()).toEqual([
      'custom.test.js',
      'docblock-node.test.js',
      'jsdom.test.js',
      'node.test.js',
    ])
    // The tracker runs under jsdom too: the leaked sleep is reported under its test.
    const jsdom = files.find((f) => f.file === 'jsdom.test.js')
    expect(jsdom?.leaked.map((l) => [l.command, l.test])).toEqual([
      ['sleep 1000', 'a process a jsdom test leaves running is reported under it'],
    ])
    expect(jsdom?.tests.map((t) => t.name)).toHaveLength(2)
    expect(r.stderr).toMatch(/ns-isolated: 4 files sandboxed, 0 not sandboxed/)
  })

  it('jsdom from the config, with an option of its own next to ours', async () => {
    p = project('environments')
    const r = await runJest(p, ['--config', 'jest.jsdom.config.js'])
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(1)
    expect(r.usage?.files.map((f) => f.file)).toEqual(['dom.test.js'])
  })

  it('a project on the stock runner: its file is listed as not sandboxed, with the reason, and counted', async () => {
    p = project('environments')
    const r = await runJest(p, ['--config', 'jest.projects.config.js'])
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    expect(r.stderr).toContain('ns-isolated: 1 file not sandboxed:')
    expect(r.stderr).toMatch(
      /stock\/plain\.test\.js: not sandboxed: project plain runs it with the stock jest-runner, not the ns-isolated runner/,
    )
    expect(r.stderr).toMatch(/ns-isolated: 1 file sandboxed, 1 not sandboxed/)
  })
})
