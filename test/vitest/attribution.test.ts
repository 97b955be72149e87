/**
 * Leaks name the test whose code started them (issue 22), each pid once
 * (issue 20): 20 files, each a sandbox of its own, whose second of three
 * tests starts a `setsid` daemon, a double-forking shell and a child that
 * forks 50 ms later, during the third test. The tracker and PID 1 both see
 * them; the run's output, the JSON report and JUnit list each once, under
 * the second test, by its final command.
 */
import { afterEach, expect, test } from 'vitest'
import { expectLeakChain, leakChainFiles, pidsWithMarker } from '../helpers.ts'
import { config, type Project, project, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const FILES = 20
const head = `import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'vitest'`

test('every leak of the second test is reported under it, once, by its final command, in 20 files of 20', async () => {
  const sleep = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config("{ report: { json: 'r.json' } }"),
    ...leakChainFiles(head, sleep, '.spec.ts', FILES),
  })
  const r = await p.run(['--reporter=default', '--reporter=junit', '--outputFile.junit=junit.xml'])
  expect(r.code, r.output).toBe(0)
  expect(pidsWithMarker(sleep)).toEqual([])
  const report = JSON.parse(p.read('r.json')) as {
    files: {
      file: string
      leaked: { pid: number; command: string; test?: string }[]
      tests: { name: string; leaked?: { pid: number }[] }[]
    }[]
  }
  expect(report.files).toHaveLength(FILES)
  const xml = p.read('junit.xml')
  for (const f of report.files) {
    expectLeakChain(f, sleep)
    const pids = f.leaked.map((l) => l.pid)
    expect(
      f.tests
        .find((t) => t.name === 'second')
        ?.leaked?.map((l) => l.pid)
        .sort(),
    ).toEqual([...pids].sort())
    expect(f.tests.filter((t) => t.name !== 'second').flatMap((t) => t.leaked ?? [])).toEqual([])
    for (const l of f.leaked) {
      // The output: one line per leak, under its test (pids repeat across sandboxes; commands do not).
      expect(r.output.split('\n').filter((line) => line.includes(`\`${l.command}\``))).toEqual([
        `   ${f.file} > second: pid ${l.pid} \`${l.command}\``,
      ])
    }
  }
  // JUnit: the second test of each file carries its three, and no other test carries any.
  const props = [...xml.matchAll(/<property name="ns-isolated\.leaked" value="([^"]*)">/g)].map((m) => m[1] as string)
  expect(props).toHaveLength(FILES)
  for (const v of props) expect(v.split('; ').map((x) => x.replace(/^\d+ /, ''))).toHaveLength(3)
}, 300_000)

test('a stopping sandbox has time to report its leaks: a spinner PID 1 watches for 50 ms of its CPU, at a cap of 0.05 cores', {
  tags: ['root'],
}, async () => {
  // PID 1 names a leak once its command has settled; a running one, once it has spent 50 ms of CPU
  // on its own. At 0.05 cores that takes a second of wall time after the worker exits, as at a load
  // of ~90 on two cores: more than stock Vitest's 500 ms before SIGKILL, which lost such leaks.
  const marker = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config("{ cpu: 0.05, report: { json: 'r.json' } }"),
    'spin.test.ts': `import { spawn } from 'node:child_process'
import { test } from 'vitest'
test('spins', () => {
  spawn('sh', ['-c', 'while :; do :; done', '${marker}'], { stdio: 'ignore', detached: true }).unref()
})
`,
  })
  const r = await p.run()
  expect(r.code, r.output).toBe(0)
  expect(pidsWithMarker(marker)).toEqual([])
  const report = JSON.parse(p.read('r.json')) as {
    files: { leaked: { command: string; test?: string }[]; leaksUnknown?: string }[]
  }
  expect(report.files[0]?.leaksUnknown).toBeUndefined()
  expect(report.files[0]?.leaked).toEqual([
    expect.objectContaining({ command: `sh -c while :; do :; done ${marker}`, test: 'spins' }),
  ])
})
