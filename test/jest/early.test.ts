// The first sandboxed worker starts while Jest reads its config
// (plugins/jest/src/host/early.ts), and the run's first worker is that one
// when it is the same sandbox: its files' snapshots reach the host through
// the plan the runner sends it later. Where it is not the same sandbox, or
// no file runs, it is ended, and nothing of it is left.
import { readdirSync, readlinkSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { leftoverCgroups } from '../cgroup/helpers.ts'
import { output, type Project, project, runJest, startJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

/** Which worker ran each file, from its console line: 'ahead' (started while Jest read its config) or 'runner'. */
function workers(stderr: string): Record<string, string> {
  return Object.fromEntries([...stderr.matchAll(/WORKER (\w) (ahead|runner)/g)].map((m) => [m[1], m[2]]))
}

/** Processes whose working directory is in the project (the launcher's, or a sandboxed worker's). */
function processesIn(dir: string): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readlinkSync(`/proc/${name}/cwd`).startsWith(dir)) out.push(Number(name))
    } catch {}
  }
  return out
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}, asNobody = false) {
  const r = await runJest(p as Project, ['--maxWorkers=1', ...args], env, asNobody)
  expect(r.code, output(r)).toBe(0)
  expect(r.results.snapshot.added, output(r)).toBe(2)
  // Written through the plan the runner sent: on the host, whichever worker wrote them.
  expect(p?.read('__snapshots__/a.test.js.snap')).toContain('"file": "a"')
  expect(p?.read('__snapshots__/b.test.js.snap')).toContain('"file": "b"')
  expect(new Set(r.usage?.files.map((f) => f.sandbox)).size).toBe(1)
  return workers(r.stderr)
}

describe('jest: the first worker, started while Jest reads its config', () => {
  it('runs the files of the same sandbox (the preset); snapshots reach the host (as root)', {
    tags: ['root'],
  }, async () => {
    p = project('early')
    expect(await run([])).toEqual({ a: 'ahead', b: 'ahead' })
  })

  it('runs the files of the same sandbox (the preset; rootless (as nobody))', async () => {
    p = project('early')
    expect(await run([], {}, true)).toEqual({ a: 'ahead', b: 'ahead' })
  })

  it('withNsIsolated starts it with the options given there', async () => {
    p = project('early')
    expect(await run(['--config', 'jest.helper.config.js'], { EARLY_OPTIONS: '{"network":"none"}' })).toEqual({
      a: 'ahead',
      b: 'ahead',
    })
  })

  it('serves the files of several projects with the same options (withNsIsolated)', async () => {
    p = project('early')
    expect(await run(['--config', 'jest.projects.config.js'])).toEqual({ a: 'ahead', b: 'ahead' })
  })

  it('the preset starts it with the options of the config Jest reads', async () => {
    p = project('early')
    expect(await run([], { EARLY_OPTIONS: '{"network":"none"}' })).toEqual({ a: 'ahead', b: 'ahead' })
  })

  it('is not used for another sandbox (options in a docblock), nor when turned off', async () => {
    p = project('early')
    // (Spelled in parts: Vitest reads a docblock with options in its own test files.)
    const docblock = `/** @jest-environment-${'options'} {"network": "none"} */`
    for (const f of ['a.test.js', 'b.test.js']) p.write(f, `${docblock}\n${p.read(f)}`)
    expect(await run([])).toEqual({ a: 'runner', b: 'runner' })
    p.cleanup()
    p = project('early')
    expect(await run([], { NS_ISOLATED_JEST_EARLY_START: '0' })).toEqual({ a: 'runner', b: 'runner' })
  })

  it.each([
    ['no file matches', ['--passWithNoTests', 'nothing-matches'], 0],
    ['--listTests', ['--listTests'], 0],
  ])('leaves nothing when no file runs (%s)', async (_, args, code) => {
    p = project('early')
    const jest = startJest(p, args)
    const exit = await new Promise<number | null>((resolve) => jest.once('close', resolve))
    expect(exit).toBe(code)
    expect(processesIn(p.dir)).toEqual([])
    expect(leftoverCgroups(jest.pid)).toEqual([])
  })
})
