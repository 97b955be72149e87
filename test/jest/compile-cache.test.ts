// `compileCache`: sandboxed Jest workers get Node's module compile cache, in
// a directory of the user's that is writable inside the sandbox, so it fills
// and lasts across files and runs. Proven from inside real sandboxes (what
// Node itself reports) and by the entries on the host afterwards; off with
// `compileCache: false`.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
let tmp: string | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
  if (tmp) rmSync(tmp, { recursive: true, force: true })
  tmp = undefined
})

const probe = `const { writeFileSync } = require('node:fs')
const { getCompileCacheDir } = require('node:module')
test('says what Node caches', () => {
  writeFileSync(__dirname + '/out/seen.json', JSON.stringify({ env: process.env.NODE_COMPILE_CACHE ?? null, dir: getCompileCacheDir() ?? null }))
})
`

it('sandboxed workers compile through a cache on the host that fills; off with compileCache: false', async () => {
  // A temp dir of the test's own, so the user's real cache is not touched.
  tmp = mkdtempSync(join(tmpdir(), 'ns-isolated-cc-jest-'))
  const cache = join(tmp, `ns-isolated-compile-cache-${process.getuid?.()}`)
  p = project('options', { 'probe.test.js': probe, 'out/.keep': '' })
  const config = (extra: object) =>
    JSON.stringify({
      preset: 'jest-environment-ns-isolated',
      testEnvironmentOptions: { writable: ['out'], report: false, ...extra },
    })
  const on = await runJest(p, ['probe'], { JEST_CONFIG_JSON: config({}), TMPDIR: tmp })
  expect(on.code, output(on)).toBe(0)
  const seen = JSON.parse(readFileSync(join(p.dir, 'out/seen.json'), 'utf8'))
  expect(seen.env).toBe(cache)
  // Node took it: the cache is on inside (its per-version subdirectory of ours).
  expect(seen.dir?.startsWith(`${cache}/`)).toBe(true)
  // Written through to the host: Jest's own modules, compiled once, kept for the next worker.
  const entries = readdirSync(cache).flatMap((v) => readdirSync(join(cache, v)))
  expect(entries.length).toBeGreaterThan(10)

  const off = await runJest(p, ['probe'], { JEST_CONFIG_JSON: config({ compileCache: false }), TMPDIR: tmp })
  expect(off.code, output(off)).toBe(0)
  expect(JSON.parse(readFileSync(join(p.dir, 'out/seen.json'), 'utf8'))).toEqual({ env: null, dir: null })
})
