// `compileCache`: sandboxed Jest workers get Node's module compile cache, in
// a directory of the user's that is writable inside the sandbox, so it fills
// and lasts across files and runs. Proven from inside real sandboxes (what
// Node itself reports) and by the entries on the host afterwards; off with
// `compileCache: false`.
import { expect, it, onTestFinished } from 'vitest'
import { compileCacheSeen, expectCompileCacheFilled, tempDir } from '../helpers.ts'
import { output, project, runJest } from './helpers.ts'

const probe = `const { writeFileSync } = require('node:fs')
const { getCompileCacheDir } = require('node:module')
test('says what Node caches', () => {
  writeFileSync(__dirname + '/out/seen.json', JSON.stringify({ env: process.env.NODE_COMPILE_CACHE ?? null, dir: getCompileCacheDir() ?? null }))
})
`

it('sandboxed workers compile through a cache on the host that fills; off with compileCache: false', async () => {
  // A temp dir of the test's own as TMPDIR, so the user's real cache is not touched.
  const tmp = tempDir('ns-isolated-cc-jest-')
  onTestFinished(tmp.cleanup)
  const p = project('options', { 'probe.test.js': probe, 'out/.keep': '' })
  onTestFinished(() => p.cleanup())
  const config = (extra: object) =>
    JSON.stringify({
      preset: 'jest-environment-ns-isolated',
      testEnvironmentOptions: { writable: ['out'], report: false, ...extra },
    })
  const on = await runJest(p, ['probe'], { JEST_CONFIG_JSON: config({}), TMPDIR: tmp.path })
  expect(on.code, output(on)).toBe(0)
  expectCompileCacheFilled(p.dir, tmp.path)

  const off = await runJest(p, ['probe'], { JEST_CONFIG_JSON: config({ compileCache: false }), TMPDIR: tmp.path })
  expect(off.code, output(off)).toBe(0)
  expect(compileCacheSeen(p.dir)).toEqual({ env: null, dir: null })
})
