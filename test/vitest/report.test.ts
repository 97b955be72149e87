/**
 * The usage report: JSON (the core's run report shape, version 1) and the
 * figures as JUnit properties, next to Vitest's own reporters.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('JUnit output carries the figures as properties of each test case', async () => {
  p = project('isolation', { 'vitest.config.ts': config("{ writable: ['out'], user: 'root' }") })
  const r = await p.run(['--reporter=default', '--reporter=junit', '--outputFile.junit=junit.xml'], {
    NSV_MARKER: `${process.pid}-junit`,
    NSV_SLEEP: uniqueSleep(),
  })
  expect(r.code).toBe(0)
  const xml = p.read('junit.xml')
  expect(xml).toMatch(/<testcase [^>]*name="leaks a daemon"/)
  expect(xml).toMatch(/<property name="ns-isolated\.cpu-ms" value="\d+">/)
  expect(xml).toMatch(/<property name="ns-isolated\.leaked" value="\d+ sleep 1000\.\d+">/)
  expect(xml).toMatch(/<property name="ns-isolated\.file\.memory-peak-bytes" value="\d+">/)
  expect(xml).toMatch(/<property name="ns-isolated\.file\.wall-ms" value="\d+">/)
})

test('the JSON report has every sandboxed file, its tests, and the totals', async () => {
  p = project('caps', { 'vitest.config.ts': config("{ report: { json: 'reports/ns.json', heaviest: 1 } }") })
  const r = await p.run(['light'])
  expect(r.code).toBe(0)
  const report = JSON.parse(p.read('reports/ns.json'))
  expect(report).toMatchObject({
    version: 1,
    totals: { files: 1, leaked: 0, capHits: 0, oomKills: 0 },
    files: [{ file: 'light.spec.ts', leaked: [], tests: [{ name: 'stays well under the caps', pidsStarted: 0 }] }],
  })
  expect(typeof report.files[0].tests[0].cpuMs).toBe('number')
  expect(['cgroup', 'rusage']).toContain(report.files[0].source)
})
