/**
 * `compileCache`: sandboxed workers get Node's module compile cache, in a
 * directory of the user's that is writable inside the sandbox, so it fills
 * and lasts across files and runs. Proven from inside real sandboxes: what
 * Node itself reports (`module.getCompileCacheDir()`), and the entries on
 * the host afterwards. Off with `compileCache: false`.
 */
import { expect, onTestFinished, test } from 'vitest'
import { compileCacheSeen, expectCompileCacheFilled, tempDir } from '../helpers.ts'
import { config, project } from './helpers.ts'

const probe = `
import { writeFileSync } from 'node:fs'
import { getCompileCacheDir } from 'node:module'
import { test } from 'vitest'
test('says what Node caches', () => {
  writeFileSync('out/seen.json', JSON.stringify({ env: process.env.NODE_COMPILE_CACHE ?? null, dir: getCompileCacheDir() ?? null }))
})
`

test('sandboxed workers compile through a cache on the host that fills; off with compileCache: false', async () => {
  // A temp dir of the test's own as TMPDIR, so the user's real cache is not touched.
  const tmp = tempDir('ns-isolated-cc-e2e-')
  onTestFinished(tmp.cleanup)
  const p = project(undefined, {
    'test/probe.test.ts': probe,
    'out/.keep': '',
    'vitest.config.ts': config("{ writable: ['out'] }"),
    'off.config.ts': config("{ writable: ['out'], compileCache: false }"),
  })
  onTestFinished(() => p.cleanup())
  const on = await p.run([], { TMPDIR: tmp.path })
  expect(on.code, on.output).toBe(0)
  expectCompileCacheFilled(p.dir, tmp.path)

  const off = await p.run(['--config', 'off.config.ts'], { TMPDIR: tmp.path })
  expect(off.code, off.output).toBe(0)
  expect(compileCacheSeen(p.dir)).toEqual({ env: null, dir: null })
})
