#!/usr/bin/env node
// Jest as users run it, stock and isolated, interleaved in one run, on a
// generated project (bench/jest-suites.mjs: `ts`, `app` or `small`):
//   stock        stock Jest as configured by default (Jest's default workers,
//                reused across files; warm transform cache, as on both sides)
//   default      the documented one-line setup (the preset, or withNsIsolated
//                for a config with a transform of its own), no mode chosen
//   fresh        isolation: 'fresh' (a new sandbox and worker per file)
//   reuse        isolation: 'reuse' (one sandbox per worker, reset between files)
// The goal is `default ÷ stock ≤ 1.1`. With --explain, two more runs explain
// the `fresh` mode: stock-fresh (stock Jest with a new worker per file,
// workerIdleMemoryLimit: 0) and stock-fresh-cc (the same with
// NODE_COMPILE_CACHE, which the isolated workers get by default). Never fails
// on time.
//
// Usage: node_modules/.bin/node bench/jest.mjs [--suite ts|app|small] [--rounds N] [--workers N] [--explain | --goal]
import './node.mjs'
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { busyMs } from './cpu.mjs'
import { installOurPackages } from './installed.mjs'
import { appSuite, smallSuite, tsSuite } from './jest-suites.mjs'

const root = resolve(import.meta.dirname, '..')
const argv = process.argv.slice(2)
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : fallback
}
const SUITE = arg('suite', 'ts')
const ROUNDS = Number(arg('rounds', 5))
/** undefined: Jest's default (cores - 1), as users run it. */
const WORKERS = arg('workers', undefined)
const EXPLAIN = argv.includes('--explain')
const suites = { ts: tsSuite, app: appSuite, small: smallSuite }
if (!(SUITE in suites)) {
  console.error(`bench/jest: --suite must be one of ${Object.keys(suites).join(', ')}`)
  process.exit(2)
}

// Under the repository (not /tmp), as a real project is; .bench/ is ignored by git.
const dir = join(root, '.bench', `jest-${SUITE}-${process.pid}`)
mkdirSync(dir, { recursive: true })
// CommonJS, like most Jest projects (the repository's own package.json says "module").
writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
// Our packages as `npm install` puts them (see installed.mjs); Jest's own from the repository.
installOurPackages(dir)
const suite = suites[SUITE](dir)
const cacheDirectory = join(dir, '.jest-cache')
// --goal: only the goal's two (stock and default), for a short run.
const GOAL = argv.includes('--goal')
const names = GOAL
  ? ['stock', 'default']
  : ['stock', 'default', 'fresh', 'reuse', ...(EXPLAIN ? ['stock-fresh', 'stock-fresh-cc'] : [])]
for (const name of names) {
  const base = name === 'stock-fresh-cc' ? 'stock-fresh' : name
  writeFileSync(join(dir, `jest.${base}.base.js`), suite.configs[base])
  // The same cache directory for all: warm on both sides.
  writeFileSync(
    join(dir, `jest.${name}.config.js`),
    `module.exports = { ...require('./jest.${base}.base.js'), cacheDirectory: ${JSON.stringify(cacheDirectory)} }\n`,
  )
}
/** Extra environment per config: Node's compile cache, turned on the way a user would. */
const extraEnv = { 'stock-fresh-cc': { NODE_COMPILE_CACHE: join(dir, '.node-compile-cache') } }

const node = join(root, 'node_modules', '.bin', 'node')
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js')
function run(name) {
  const started = performance.now()
  const cpu0 = busyMs()
  const r = spawnSync(
    node,
    [jest, '--config', `jest.${name}.config.js`, ...(WORKERS ? [`--maxWorkers=${WORKERS}`] : [])],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '', ...extraEnv[name] } },
  )
  const ms = performance.now() - started
  cpu[name].push(busyMs() - cpu0)
  if (r.status !== 0) {
    console.error(`${name} failed:\n${r.stderr.slice(-3000)}`)
    process.exit(1)
  }
  return ms
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const times = Object.fromEntries(names.map((n) => [n, []]))
/** The machine's busy CPU time during each run (bench/cpu.mjs). */
const cpu = Object.fromEntries(names.map((n) => [n, []]))
// One warm-up each fills the transform cache (kept across runs, as in real use).
for (const n of names) run(n)
for (const n of names) cpu[n].length = 0
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved, in a rotating order, so drift on the machine hits all alike.
  const order = names.map((_, i) => names[(i + round) % names.length])
  for (const n of order) times[n].push(run(n))
}
rmSync(dir, { recursive: true, force: true })

const m = Object.fromEntries(names.map((n) => [n, median(times[n])]))
console.log(
  `jest (${SUITE}): maxWorkers ${WORKERS ?? "Jest's default"}, ${ROUNDS} rounds (median wall of the whole \`jest\` run)`,
)
for (const n of names)
  console.log(
    `  ${n.padEnd(14)} ${(m[n] / 1000).toFixed(2)} s   [${times[n].map((t) => (t / 1000).toFixed(2)).join(', ')}]   CPU busy ${(median(cpu[n]) / 1000).toFixed(2)} s`,
  )
// Per round, the runs being compared are close in time: the median of the
// per-round ratios is less exposed to the machine's drift than the ratio of medians.
const ratio = (a, b) =>
  `${(m[a] / m[b]).toFixed(3)} (paired ${median(times[a].map((t, i) => t / times[b][i])).toFixed(3)}), CPU ${(median(cpu[a]) / median(cpu[b])).toFixed(3)}`
console.log(`  default / stock        = ${ratio('default', 'stock')}   (goal ≤ 1.1)`)
if (!GOAL) {
  console.log(`  fresh / stock          = ${ratio('fresh', 'stock')}`)
  console.log(`  reuse / stock          = ${ratio('reuse', 'stock')}`)
}
if (EXPLAIN) {
  console.log(`  fresh / stock-fresh    = ${ratio('fresh', 'stock-fresh')}   (explains fresh: a new worker per file)`)
  console.log(`  fresh / stock-fresh-cc = ${ratio('fresh', 'stock-fresh-cc')}   (the sandbox's own price)`)
}
