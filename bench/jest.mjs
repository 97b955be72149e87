#!/usr/bin/env node
// Jest on 40 generated small test files, four ways, interleaved in one run:
//   stock          stock Jest, default worker reuse
//   stock-fresh    stock Jest with a fresh worker per file (workerIdleMemoryLimit: 0)
//   fresh          preset jest-environment-ns-isolated (a new sandbox per file)
//   reuse          preset with isolation: 'reuse' (one sandbox per worker, reset between files)
//   stock-fresh-cc stock-fresh with NODE_COMPILE_CACHE set, as the preset's workers get it by
//                  default (compileCache): fresh against it is the sandbox's own price
// Prints the median wall time of each and the ratios against the goals:
//   fresh ≤ 1.05 × stock-fresh, reuse ≤ 1.15 × stock. Never fails on time.
//
// Usage: node_modules/.bin/node bench/jest.mjs [--rounds N] [--files N] [--workers N]
import './node.mjs'
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { busyMs } from './cpu.mjs'
import { installOurPackages } from './installed.mjs'

const root = resolve(import.meta.dirname, '..')
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const ROUNDS = arg('rounds', 5)
const FILES = arg('files', 40)
const WORKERS = arg('workers', 2)

// Under the repository (not /tmp), as a real project is; .bench/ is ignored by git.
const dir = join(root, '.bench', `jest-${process.pid}`)
mkdirSync(join(dir, 'tests'), { recursive: true })
// CommonJS, like most Jest projects (the repository's own package.json says "module").
writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
// Our packages as `npm install` puts them (see installed.mjs); Jest's own from the repository.
installOurPackages(dir)
writeFileSync(join(dir, 'sum.js'), 'module.exports = (a, b) => a + b\n')
for (let i = 0; i < FILES; i++) {
  writeFileSync(
    join(dir, 'tests', `t${String(i).padStart(2, '0')}.test.js`),
    `const sum = require('../sum')
describe('file ${i}', () => {
  test('adds', () => expect(sum(${i}, 1)).toBe(${i + 1}))
  test('maps', () => expect([1, 2, 3].map((x) => x * ${i})).toEqual([${i}, ${2 * i}, ${3 * i}]))
  test('objects', () => expect({ i: ${i}, s: 'x'.repeat(${i % 7}) }).toMatchObject({ i: ${i} }))
})
`,
  )
}
const cacheDirectory = join(dir, '.jest-cache')
const configs = {
  stock: { testEnvironment: 'node' },
  'stock-fresh': { testEnvironment: 'node', workerIdleMemoryLimit: 0 },
  fresh: { preset: 'jest-environment-ns-isolated', testEnvironmentOptions: { report: false } },
  reuse: { preset: 'jest-environment-ns-isolated', testEnvironmentOptions: { isolation: 'reuse', report: false } },
  'stock-fresh-cc': { testEnvironment: 'node', workerIdleMemoryLimit: 0 },
}
/** Extra environment per config: Node's compile cache, turned on the way a user would. */
const extraEnv = { 'stock-fresh-cc': { NODE_COMPILE_CACHE: join(dir, '.node-compile-cache') } }
for (const [name, c] of Object.entries(configs)) {
  writeFileSync(
    join(dir, `jest.${name}.config.js`),
    `module.exports = ${JSON.stringify({ ...c, rootDir: dir, cacheDirectory })}\n`,
  )
}

const node = join(root, 'node_modules', '.bin', 'node')
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js')
function run(name) {
  const started = performance.now()
  const cpu0 = busyMs()
  // --ci=false, and workers forced: Jest would otherwise run this small, fast suite in band.
  const r = spawnSync(node, [jest, '--config', `jest.${name}.config.js`, `--maxWorkers=${WORKERS}`, '--silent'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '', ...extraEnv[name] },
  })
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

const names = Object.keys(configs)
const times = Object.fromEntries(names.map((n) => [n, []]))
/** The machine's busy CPU time during each run (bench/cpu.mjs). */
const cpu = Object.fromEntries(names.map((n) => [n, []]))
// One warm-up each fills the transform cache (kept across runs, as in real use).
for (const n of names) run(n)
for (const n of names) cpu[n].length = 0
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved, in a rotating order, so drift on the machine hits all four alike.
  const order = names.map((_, i) => names[(i + round) % names.length])
  for (const n of order) times[n].push(run(n))
}
rmSync(dir, { recursive: true, force: true })

const m = Object.fromEntries(names.map((n) => [n, median(times[n])]))
console.log(`jest: ${FILES} files, maxWorkers ${WORKERS}, ${ROUNDS} rounds (median wall of the whole \`jest\` run)`)
for (const n of names)
  console.log(
    `  ${n.padEnd(12)} ${(m[n] / 1000).toFixed(2)} s   [${times[n].map((t) => (t / 1000).toFixed(2)).join(', ')}]   CPU busy ${(median(cpu[n]) / 1000).toFixed(2)} s`,
  )
// Per round, the runs being compared are close in time: the median of the
// per-round ratios is less exposed to the machine's drift than the ratio of medians.
const ratio = (a, b) =>
  `${(m[a] / m[b]).toFixed(3)}, paired ${median(times[a].map((t, i) => t / times[b][i])).toFixed(3)}`
console.log(`  fresh / stock-fresh = ${ratio('fresh', 'stock-fresh')}   (goal ≤ 1.05)`)
console.log(`  reuse / stock       = ${ratio('reuse', 'stock')}   (goal ≤ 1.15)`)
console.log(`  fresh / stock       = ${ratio('fresh', 'stock')}   (the price of a new sandbox and worker per file)`)
console.log(
  `  fresh / stock-fresh-cc = ${ratio('fresh', 'stock-fresh-cc')}   (the sandbox's own price: the compile cache on both sides)`,
)
const cpuRatio = (a, b) => (median(cpu[a]) / median(cpu[b])).toFixed(3)
console.log(
  `  CPU busy: fresh / stock-fresh ${cpuRatio('fresh', 'stock-fresh')}, reuse / stock ${cpuRatio('reuse', 'stock')}, fresh / stock-fresh-cc ${cpuRatio('fresh', 'stock-fresh-cc')}`,
)
