#!/usr/bin/env node
// What a sandbox per test costs (the Vitest plugin's `isolation: 'test'`):
// `vitest run` on one file of 20 small tests, stock Vitest (pool forks),
// ns-isolated with one sandbox for the file (the default), and ns-isolated
// with one sandbox per test, at maxWorkers 1, runs interleaved so drift hits
// all alike. The yardstick: the same 20 tests as 20 files of one test, one
// sandbox per file (20 sandboxed worker starts). Prints the median wall and
// CPU time of each, the cost per test of `isolation: 'test'` over one
// sandbox per file, and the cost per file of the 20 files over the one.
//   bench/vitest-per-test.mjs [--rounds N] [--tests N]
// It never fails on time.
import './node.mjs'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { median, timedRun, userEnv, vitestProject } from './vitest-project.mjs'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, tests: { type: 'string', default: '20' } },
})
const rounds = Number(values.rounds)
const tests = Number(values.tests)
const dir = vitestProject('nsv-bench-per-test-')
mkdirSync(join(dir, 'test'))
mkdirSync(join(dir, 'split'))
const body = Array.from(
  { length: tests },
  (_, i) => `test('t${i}', () => { expect(fib(12) + ${i}).toBe(${144 + i}) })`,
).join('\n')
writeFileSync(
  join(dir, 'test', 'many.test.ts'),
  `import { expect, test } from 'vitest'\nfunction fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2) }\n${body}\n`,
)
for (let i = 0; i < tests; i++) {
  writeFileSync(
    join(dir, 'split', `t${String(i).padStart(2, '0')}.test.ts`),
    `import { expect, test } from 'vitest'\nfunction fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2) }\ntest('t${i}', () => { expect(fib(12) + ${i}).toBe(${144 + i}) })\n`,
  )
}
const configs = {
  stock: `import { defineConfig } from 'vitest/config'
export default defineConfig({ test: { pool: 'forks', environment: 'node', include: ['test/**/*.test.ts'] } })
`,
  'per file': `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  plugins: [nsIsolated({ report: { table: false } })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.ts'] },
})
`,
  files: `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  plugins: [nsIsolated({ report: { table: false } })],
  test: { environment: 'ns-isolated', include: ['split/**/*.test.ts'] },
})
`,
  'per test': `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  plugins: [nsIsolated({ isolation: 'test', report: { table: false } })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.ts'] },
})
`,
}
const file = (name) => `${name.replace(' ', '-')}.config.ts`
for (const [name, text] of Object.entries(configs)) writeFileSync(join(dir, file(name)), text)

const env = userEnv()
const run = (name) => timedRun(dir, file(name), 1, env)

try {
  console.log(
    `vitest run, 1 file of ${tests} tests, maxWorkers=1, ${rounds} interleaved rounds (after one warm-up each)`,
  )
  const names = Object.keys(configs)
  for (const n of names) await run(n)
  const runs = Object.fromEntries(names.map((n) => [n, []]))
  for (let i = 0; i < rounds; i++) for (const n of names) runs[n].push(await run(n))
  const wall = (n) => median(runs[n].map((r) => r.ms))
  const cpu = (n) => median(runs[n].map((r) => r.cpu))
  for (const n of names) {
    console.log(
      `  ${n.padEnd(9)} ${wall(n).toFixed(0)} ms (ratio to stock ${(wall(n) / wall('stock')).toFixed(2)}), CPU busy ${cpu(n).toFixed(0)} ms`,
    )
  }
  const perTest = (wall('per test') - wall('per file')) / tests
  const perTestCpu = (cpu('per test') - cpu('per file')) / tests
  console.log(
    `  isolation 'test' over 'file': +${perTest.toFixed(1)} ms wall, +${perTestCpu.toFixed(1)} ms CPU per test`,
  )
  // The yardstick: what each further sandboxed worker start costs a run.
  const perFile = (wall('files') - wall('per file')) / (tests - 1)
  const perFileCpu = (cpu('files') - cpu('per file')) / (tests - 1)
  console.log(
    `  ${tests} files of 1 test over 1 file of ${tests}: +${perFile.toFixed(1)} ms wall, +${perFileCpu.toFixed(1)} ms CPU per further file`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
