#!/usr/bin/env node
// What a new Jest worker computes again, and what is shared with the workers
// before it, on the `ts` suite of bench/jest-suites.mjs (ts-jest with
// `diagnostics: true`): one file in one fresh sandbox (`isolation: 'fresh'`),
// the CPU of the whole run (Jest and every process it waited for), each
// variant interleaved:
//   cold            no transform cache, no compile cache: everything computed
//   transform-cache Jest's cacheDirectory warm (ts-jest's compiled output, its
//                   type-check done, its resolved-modules cache): shared
//   + compile-cache Node's compile cache too (the default): shared
//   stock           the same file in stock Jest, in band (no worker at all)
// and, in one process, what ts-jest builds again in every new worker and no
// cache directory holds: its TypeScript program (lib files, @types/node),
// from its transformer's first cache key.
// Jest's haste map is not in the list: the parent builds it once per run and
// hands every worker the serialized module map.
//
// Usage: node_modules/.bin/node bench/jest-fresh.mjs [--rounds N]
import './node.mjs'
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { installOurPackages } from './installed.mjs'
import { tsSuite } from './jest-suites.mjs'

const root = resolve(import.meta.dirname, '..')
const i = process.argv.indexOf('--rounds')
const ROUNDS = i > 0 ? Number(process.argv[i + 1]) : 5
const dir = join(root, '.bench', `jest-fresh-${process.pid}`)
mkdirSync(dir, { recursive: true })
writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
installOurPackages(dir)
const suite = tsSuite(dir, { files: 2 })
const warm = join(dir, '.jest-cache')
const compileCache = join(dir, '.node-compile-cache')
const isolated = (options) =>
  `const { withNsIsolated } = require('jest-environment-ns-isolated/config')
const base = require('./jest.stock.base.js')
module.exports = withNsIsolated(base, ${JSON.stringify({ isolation: 'fresh', report: false, ...options })})\n`
writeFileSync(join(dir, 'jest.stock.base.js'), suite.configs.stock)
writeFileSync(join(dir, 'jest.no-cc.config.js'), isolated({ compileCache: false }))
writeFileSync(join(dir, 'jest.cc.config.js'), isolated({}))
writeFileSync(join(dir, 'jest.stock.config.js'), "module.exports = require('./jest.stock.base.js')\n")

const node = join(root, 'node_modules', '.bin', 'node')
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js')
const file = 'packages/core/test/t00.test.ts'
/** CPU (user + system, ms) of one `jest` run and everything it waited for. */
function cpuOf(config, cacheDirectory, env = {}) {
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%U %S', node, jest, '--config', config, `--cacheDirectory=${cacheDirectory}`, '-i', file],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '', ...env } },
  )
  if (r.status !== 0) {
    console.error(`${config} failed:\n${r.stderr.slice(-3000)}`)
    process.exit(1)
  }
  const [u, s] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number)
  return (u + s) * 1000
}

const variants = {
  cold: () => {
    const cold = join(dir, '.cold-cache')
    rmSync(cold, { recursive: true, force: true })
    return cpuOf('jest.no-cc.config.js', cold)
  },
  'transform-cache': () => cpuOf('jest.no-cc.config.js', warm),
  '+ compile-cache': () => cpuOf('jest.cc.config.js', warm, { NODE_COMPILE_CACHE: compileCache }),
  stock: () => cpuOf('jest.stock.config.js', warm),
}
// Warm the shared caches once.
variants['transform-cache']()
variants['+ compile-cache']()
const cpu = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
for (let round = 0; round < ROUNDS; round++) for (const [k, f] of Object.entries(variants)) cpu[k].push(f())

// ts-jest's TypeScript program, in one process: what every new worker builds again.
const program = spawnSync(
  node,
  [
    '-e',
    `const { TsJestTransformer } = require('ts-jest')
const { readFileSync } = require('node:fs')
const config = require('./jest.stock.base.js').projects[0]
const t0 = process.cpuUsage()
const transformer = new TsJestTransformer(config.transform['^.+\\\\.ts$'][1])
const path = require('node:path').join(config.rootDir, 'test/t00.test.ts')
transformer.getCacheKey(readFileSync(path, 'utf8'), path, { config: { ...config, cwd: config.rootDir, testMatch: [], testRegex: [], extensionsToTreatAsEsm: [], moduleFileExtensions: ['ts', 'js'], globals: {} }, cacheFS: new Map(), instrument: false, transformerConfig: config.transform['^.+\\\\.ts$'][1] })
const u = process.cpuUsage(t0)
console.log((u.user + u.system) / 1000)`,
  ],
  { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_COMPILE_CACHE: compileCache } },
)
rmSync(dir, { recursive: true, force: true })

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
console.log(`jest, one ts-jest file in one fresh sandbox: CPU of the run (median of ${ROUNDS})`)
for (const [k, xs] of Object.entries(cpu))
  console.log(`  ${k.padEnd(16)} ${median(xs).toFixed(0)} ms   [${xs.map((x) => x.toFixed(0)).join(', ')}]`)
console.log(
  `  shared by the transform cache: ${(median(cpu.cold) - median(cpu['transform-cache'])).toFixed(0)} ms; by the compile cache: ${(median(cpu['transform-cache']) - median(cpu['+ compile-cache'])).toFixed(0)} ms`,
)
console.log(
  `  ts-jest's TypeScript program (first cache key, one process): ${program.status === 0 ? `${Number(program.stdout.trim()).toFixed(0)} ms of CPU` : `failed: ${program.stderr.slice(-500)}`}`,
)
