#!/usr/bin/env node
// isolation: 'test' (a fresh sandbox per test) against the other ways to run
// the same file: one file of 20 small tests, each way interleaved in one run:
//   stock   stock Jest (in band: one file)
//   file    isolation: 'fresh' (one new sandbox and worker for the file)
//   test    isolation: 'test' (one new sandbox and worker per test)
// The per-test cost is (test − file) / 19, the 19 sandboxes the mode adds;
// beside it, what one sandboxed worker costs (file − stock): the goal is a
// per-test cost close to that. Never fails on time.
//
// Usage: node_modules/.bin/node bench/jest-per-test.mjs [--rounds N]
import './node.mjs'
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { busyMs } from './cpu.mjs'
import { installOurPackages } from './installed.mjs'

const root = resolve(import.meta.dirname, '..')
const i = process.argv.indexOf('--rounds')
const ROUNDS = i > 0 ? Number(process.argv[i + 1]) : 5
const TESTS = 20

const dir = join(root, '.bench', `jest-per-test-${process.pid}`)
mkdirSync(dir, { recursive: true })
writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
installOurPackages(dir)
writeFileSync(join(dir, 'sum.js'), 'module.exports = (a, b) => a + b\n')
const tests = Array.from(
  { length: TESTS },
  (_, n) => `  test('adds ${n}', () => expect(sum(${n}, 1)).toBe(${n + 1}))\n`,
).join('')
writeFileSync(join(dir, 'twenty.test.js'), `const sum = require('./sum')\ndescribe('twenty', () => {\n${tests}})\n`)
const cacheDirectory = join(dir, '.jest-cache')
const base = { rootDir: dir, testEnvironment: 'node', cacheDirectory }
const isolated = (isolation) => ({
  ...base,
  preset: 'jest-environment-ns-isolated',
  testEnvironmentOptions: { isolation, report: false },
})
const configs = { stock: base, file: isolated('fresh'), test: isolated('test') }
const names = Object.keys(configs)
for (const [name, config] of Object.entries(configs))
  writeFileSync(join(dir, `jest.${name}.config.js`), `module.exports = ${JSON.stringify(config)}\n`)

const node = join(root, 'node_modules', '.bin', 'node')
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js')
const times = Object.fromEntries(names.map((n) => [n, []]))
const cpu = Object.fromEntries(names.map((n) => [n, []]))
function run(name) {
  const started = performance.now()
  const cpu0 = busyMs()
  const r = spawnSync(node, [jest, '--config', `jest.${name}.config.js`], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '' },
  })
  times[name].push(performance.now() - started)
  cpu[name].push(busyMs() - cpu0)
  if (r.status !== 0 || !r.stderr.includes(`${TESTS} passed`)) {
    console.error(`${name} failed:\n${r.stderr.slice(-3000)}`)
    process.exit(1)
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
// One warm-up each fills the transform cache (kept across runs, as in real use).
for (const n of names) run(n)
for (const n of names) {
  times[n].length = 0
  cpu[n].length = 0
}
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved, in a rotating order, so drift on the machine hits all alike.
  for (const n of names.map((_, k) => names[(k + round) % names.length])) run(n)
}
rmSync(dir, { recursive: true, force: true })

const m = Object.fromEntries(names.map((n) => [n, median(times[n])]))
const c = Object.fromEntries(names.map((n) => [n, median(cpu[n])]))
console.log(`jest per test: one file of ${TESTS} tests, ${ROUNDS} rounds (median of the whole \`jest\` run)`)
for (const n of names)
  console.log(
    `  ${n.padEnd(6)} ${(m[n] / 1000).toFixed(2)} s   [${times[n].map((t) => (t / 1000).toFixed(2)).join(', ')}]   CPU busy ${(c[n] / 1000).toFixed(2)} s`,
  )
const perTest = (m.test - m.file) / (TESTS - 1)
const perTestCpu = (c.test - c.file) / (TESTS - 1)
console.log(`  per test (test − file) / ${TESTS - 1}: ${perTest.toFixed(0)} ms wall, ${perTestCpu.toFixed(0)} ms CPU`)
console.log(
  `  one sandboxed worker (file − stock): ${(m.file - m.stock).toFixed(0)} ms wall, ${(c.file - c.stock).toFixed(0)} ms CPU`,
)
