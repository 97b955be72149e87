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
