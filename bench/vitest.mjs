#!/usr/bin/env node
// The Vitest front door's cost, against what users run: `vitest run` on 40
// small test files, ns-isolated as configured by default (the plugin,
// `environment: 'ns-isolated'`: each file's worker in fresh namespaces, with
// its usage report) against stock Vitest as configured by default (pool
// forks, environment node), at maxWorkers 1 and 2, runs interleaved so drift
// hits all alike. That ratio leads (goal: <= 1.05). The other runs only
// explain it: ns-isolated with prewarm: false (no spare worker booted ahead)
// and with compileCache: false (no Node compile cache for its workers), and
// stock with NODE_COMPILE_CACHE set (the sandbox's own price, the cache on
// both sides).
//   bench/vitest.mjs [--rounds N] [--files N]
// Prints the median wall time of each and the ratios. It never fails on time.
import './node.mjs'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { median, timedRun, userEnv, vitestProject } from './vitest-project.mjs'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, files: { type: 'string', default: '40' } },
})
const rounds = Number(values.rounds)
const files = Number(values.files)
// Our packages as `npm install` puts them (see installed.mjs), the rest linked from the repository.
const dir = vitestProject('nsv-bench-')
mkdirSync(join(dir, 'test'))
for (let i = 0; i < files; i++) {
  writeFileSync(
    join(dir, 'test', `f${String(i).padStart(2, '0')}.test.ts`),
    `import { expect, test } from 'vitest'
function fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2) }
test('adds', () => { expect(${i} + 1).toBe(${i + 1}) })
test('computes', () => { expect(fib(18)).toBe(2584) })
test('strings', () => { expect('file ${i}'.toUpperCase()).toContain('FILE') })
`,
  )
}
writeFileSync(
  join(dir, 'stock.config.ts'),
  `import { defineConfig } from 'vitest/config'
export default defineConfig({ test: { pool: 'forks', environment: 'node', include: ['test/**/*.test.ts'] } })
`,
)
writeFileSync(
  join(dir, 'isolated.config.ts'),
  `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  plugins: [nsIsolated({ report: { table: false } })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.ts'] },
})
`,
)

// Variants of the plugin: without spares (prewarm: false), what the sandbox
// itself costs each file's start; without the compile cache (compileCache:
// false), what Node's compile cache saves each new worker.
for (const [name, extra] of [
  ['cold', ', prewarm: false'],
  ['nocache', ', compileCache: false'],
]) {
  writeFileSync(
    join(dir, `${name}.config.ts`),
    `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  plugins: [nsIsolated({ report: { table: false }${extra} })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.ts'] },
})
`,
  )
}

const env = userEnv()

// Stock with Node's compile cache turned on the way a user would (NODE_COMPILE_CACHE, for the
// main process and the workers): the same Node settings as ns-isolated's workers get by default.
const STOCK_CACHED = 'stock-cached'
const cachedEnv = { ...env, NODE_COMPILE_CACHE: join(dir, '.node-compile-cache') }

let failures = 0
/** One timed run; a run that fails (a host hiccup, another runner's sweep) is retried and counted. */
async function run(config, maxWorkers) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await (config === STOCK_CACHED
        ? timedRun(dir, 'stock.config.ts', maxWorkers, cachedEnv)
        : timedRun(dir, config, maxWorkers, env))
    } catch (e) {
      failures++
      if (attempt >= 2) throw e
      console.error(
        `(a ${config} run failed and is retried: ${
          String(e.message)
            .split('\n')
            .find((l) => l.includes('Caused by')) ?? e.message.split('\n')[0]
        })`,
      )
    }
  }
}

try {
  console.log(`vitest run, ${files} files, ${rounds} interleaved rounds (after one warm-up each)`)
  const DEFAULT = 'isolated.config.ts'
  const explanations = {
    'ns-isolated, prewarm: false': 'cold.config.ts',
    'ns-isolated, compileCache: false': 'nocache.config.ts',
  }
  for (const workers of [1, 2]) {
    const all = ['stock.config.ts', DEFAULT, ...Object.values(explanations), STOCK_CACHED]
    for (const c of all) await run(c, workers)
    const runs = Object.fromEntries(all.map((c) => [c, []]))
    for (let i = 0; i < rounds; i++) for (const c of all) runs[c].push(await run(c, workers))
    const stock = runs['stock.config.ts']
    const s = median(stock.map((r) => r.ms))
    const sc = median(stock.map((r) => r.cpu))
    console.log(`maxWorkers=${workers}: stock (default) ${s.toFixed(0)} ms (CPU busy ${sc.toFixed(0)} ms)`)
    const line = (name, of, base, baseName) => {
      const b = median(base.map((r) => r.ms))
      const bc = median(base.map((r) => r.cpu))
      const n = median(of.map((r) => r.ms))
      // Each round's runs are next to each other in time: the median of
      // their ratios is less exposed to the machine's drift than the ratio of medians.
      const paired = median(of.map((x, i) => x.ms / base[i].ms))
      // What the machine's CPUs were busy with meanwhile (bench/cpu.mjs): where
      // the cores are all busy, wall time follows CPU time.
      const nc = median(of.map((r) => r.cpu))
      console.log(
        `  ${name} / ${baseName}: ${n.toFixed(0)} ms, ratio ${(n / b).toFixed(3)}, paired ${paired.toFixed(3)} (${n >= b ? '+' : ''}${((n - b) / files).toFixed(1)} ms per file); CPU busy ${nc.toFixed(0)} ms, ratio ${(nc / bc).toFixed(3)}`,
      )
    }
    // What users compare: the plugin as configured by default against stock as configured by default.
    line('ns-isolated (default)', runs[DEFAULT], stock, 'stock (default) (goal <= 1.05)')
    console.log('  explained by:')
    for (const [name, c] of Object.entries(explanations)) line(`  ${name}`, runs[c], stock, 'stock (default)')
    line('  stock, NODE_COMPILE_CACHE set', runs[STOCK_CACHED], stock, 'stock (default)')
    // The sandbox's own price, with the compile cache on both sides.
    line('  ns-isolated (default)', runs[DEFAULT], runs[STOCK_CACHED], 'stock with NODE_COMPILE_CACHE')
  }
  if (failures > 0) console.log(`${failures} run(s) failed and were retried`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
