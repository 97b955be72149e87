/**
 * `compileCache`: sandboxed workers get Node's module compile cache, in a
 * directory of the user's that is writable inside the sandbox, so it fills
 * and lasts across files and runs. Proven from inside real sandboxes: what
 * Node itself reports (`module.getCompileCacheDir()`), and the entries on
 * the host afterwards. Off with `compileCache: false`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
let tmp: string | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
  if (tmp) rmSync(tmp, { recursive: true, force: true })
  tmp = undefined
})

const probe = `
import { writeFileSync } from 'node:fs'
import { getCompileCacheDir } from 'node:module'
import { test } from 'vitest'
test('says what Node caches', () => {
  writeFileSync('out/seen.json', JSON.stringify({ env: process.env.NODE_COMPILE_CACHE ?? null, dir: getCompileCacheDir() ?? null }))
})
`

test('sandboxed workers compile through a cache on the host that fills; off with compileCache: false', async () => {
  // A temp dir of the test's own, so the user's real cache is not touched.
  tmp = mkdtempSync(join(tmpdir(), 'ns-isolated-cc-e2e-'))
  const cache = join(tmp, `ns-isolated-compile-cache-${process.getuid?.()}`)
  p = project(undefined, {
    'test/probe.test.ts': probe,
    'out/.keep': '',
    'vitest.config.ts': config("{ writable: ['out'] }"),
    'off.config.ts': config("{ writable: ['out'], compileCache: false }"),
  })
  const on = await p.run([], { TMPDIR: tmp })
  expect(on.code, on.output).toBe(0)
  const seen = JSON.parse(readFileSync(join(p.dir, 'out/seen.json'), 'utf8'))
  expect(seen.env).toBe(cache)
  // Node took it: the cache is on inside (its per-version subdirectory of ours).
  expect(seen.dir?.startsWith(`${cache}/`)).toBe(true)
  // Written through to the host: Vitest's own modules, compiled once, kept for the next worker.
  const entries = readdirSync(cache).flatMap((v) => readdirSync(join(cache, v)))
  expect(entries.length).toBeGreaterThan(10)

  const off = await p.run(['--config', 'off.config.ts'], { TMPDIR: tmp })
  expect(off.code, off.output).toBe(0)
  expect(JSON.parse(readFileSync(join(p.dir, 'out/seen.json'), 'utf8'))).toEqual({ env: null, dir: null })
})
