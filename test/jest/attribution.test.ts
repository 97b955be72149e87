// Leaks name the test whose code started them (issue 22), each pid once
// (issue 20), in both modes: 20 files whose second of three tests starts a
// `setsid` daemon, a double-forking shell and a child that forks 50 ms
// later, during the third test. fresh: the tracker and PID 1 both see them;
// reuse: the tracker alone (the sandbox outlives the file). The usage report
// and the run's output list each once, under the second test, by its final
// command; in jest-junit's XML, as the second test case's ns-isolated.leaked
// property (jest-environment-ns-isolated/junit).
import { afterEach, describe, expect, it } from 'vitest'
import { expectLeakChain, leakChainFiles, pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const FILES = 20
const head = `const { spawn } = require('node:child_process')
const { readdirSync, readFileSync } = require('node:fs')`

describe('jest: leak attribution', () => {
  it.for([
    ['fresh', 'jest.fresh.config.js'],
    ['reuse', 'jest.config.js'],
  ])(
    '%s: every leak of the second test is reported under it, once, by its final command, in 20 files of 20',
    { timeout: 300_000 },
    async ([, config]) => {
      const sleep = uniqueSleep()
      p = project('attribution', leakChainFiles(head, sleep, '.test.js', FILES))
      const r = await runJest(p, ['-c', config as string, '--maxWorkers=2'])
      expect(r.code, output(r)).toBe(0)
      expect(pidsWithMarker(sleep)).toEqual([])
      const report = r.usage?.files ?? []
      expect(report).toHaveLength(FILES)
      for (const f of report) {
        expectLeakChain(f, sleep)
        for (const l of f.leaked) {
          // The output: one line per leak, under its test (pids repeat across sandboxes; commands do not).
          expect(r.stderr.split('\n').filter((line) => line.includes(l.command))).toEqual([
            `  ${f.file} > second: ${l.command} — pid ${l.pid}`,
          ])
        }
      }
      // JUnit: the second test of each file carries its three, and no other test carries any.
      const xml = p.read('junit.xml')
      const props = [...xml.matchAll(/<property name="ns-isolated\.leaked" value="([^"]*)"/g)].map(
        (m) => m[1] as string,
      )
      expect(props, xml).toHaveLength(FILES)
      for (const v of props) expect(v.split('; ').map((x) => x.replace(/^\d+ /, ''))).toHaveLength(3)
      expect(xml).toMatch(/<property name="ns-isolated\.cpu-ms" value="\d+"/)
      expect(xml).toMatch(/<property name="ns-isolated\.file\.wall-ms" value="\d+"/)
    },
  )
})
