/**
 * Console output of sandboxed files: the same lines, in the same order, under
 * the same `stdout | file > test` headers as with stock Vitest's forks pool.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project, type RunOutput, stockConfig, vitestMajor } from './helpers.ts'

const projects: Project[] = []
afterEach(() => {
  for (const p of projects.splice(0)) p.cleanup()
})

function pair(): { stock: Project; iso: Project } {
  const stock = project('console', { 'vitest.config.ts': stockConfig() })
  const iso = project('console', { 'vitest.config.ts': config("{ report: { table: false, json: 'ns.json' } }") })
  projects.push(stock, iso)
  return { stock, iso }
}

/** What a file printed, between Vitest's RUN line and the summary; durations and the root dropped. */
function printed(r: RunOutput, root: string): string {
  const text = r.output.split(root).join('<root>')
  const start = text.indexOf('\n', text.indexOf(' RUN '))
  return text
    .slice(start, text.indexOf(' Test Files '))
    .replace(/ \d+(\.\d+)?m?s$/gm, '')
    .trim()
}

test('console.log/error from a file and its tests: same order and attribution as stock', async () => {
  const { stock, iso } = pair()
  const s = await stock.run(['logs'], {}, { merged: true })
  const i = await iso.run(['logs'], {}, { merged: true })
  expect(s.code).toBe(0)
  expect(i.code).toBe(0)
  // attributed to the test (or the file, outside tests), in the order logged, stdout and stderr apart
  const seen = printed(i, iso.dir)
  expect(seen).toContain('stdout | logs.spec.ts\nimport: log\n\nstdout | logs.spec.ts\nbeforeAll: log')
  expect(seen).toContain(
    'stdout | logs.spec.ts > logs in order\none: log\nthree: log\nfour: info\nsix: log\n\nstderr | logs.spec.ts > logs in order\ntwo: error\nfive: warn',
  )
  // Vitest 5 keeps the order across streams within a burst; Vitest 4 prints a burst's stderr first
  // (stock and sandboxed alike: the comparison with stock below holds for both).
  const burst = ['eight: log', 'nine: error'].map((line) => {
    const stream = line.endsWith('error') ? 'stderr' : 'stdout'
    return `${stream} | logs.spec.ts > a group > logs across awaits\n${line}`
  })
  expect(seen).toContain(
    [
      'stdout | logs.spec.ts > a group > logs across awaits\nseven: log',
      ...(vitestMajor() >= 5 ? burst : burst.reverse()),
      'stdout | logs.spec.ts > a group > logs across awaits\nten: log',
    ].join('\n\n'),
  )
  expect(seen).toContain('stdout | logs.spec.ts\nafterAll: log')
  expect(seen).toEqual(printed(s, stock.dir))
  expect(JSON.parse(iso.read('ns.json')).totals.files).toBe(1)
})

test('with --disableConsoleIntercept, raw and console writes reach stdout and stderr in order, as stock', async () => {
  const { stock, iso } = pair()
  const args = ['raw', '--disableConsoleIntercept']
  const s = await stock.run(args)
  const i = await iso.run(args)
  expect(i.code).toBe(0)
  const lines = (text: string) => text.split('\n').filter((l) => /^(raw|console) (out|err):/.test(l))
  expect(lines(i.stdout)).toEqual(['raw out: one', 'console out: two', 'raw out: five'])
  expect(lines(i.stderr)).toEqual(['raw err: three', 'console err: four', 'console err: six'])
  expect(lines(i.stdout)).toEqual(lines(s.stdout))
  expect(lines(i.stderr)).toEqual(lines(s.stderr))
})
