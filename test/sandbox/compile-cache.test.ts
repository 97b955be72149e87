/**
 * The compile cache handed to sandboxed workers (core `compileCacheFor`):
 * a directory of this user's alone, created 0700; refused when it is not
 * safe to share; the user's own NODE_COMPILE_CACHE wins; disabled when
 * Node is told to disable it. Real directories, no mocks.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { compileCacheFor } from '../../src/host/compile-cache.ts'

let base: string
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'ns-isolated-cc-test-'))
})
afterEach(() => rmSync(base, { recursive: true, force: true }))

const own = () => join(base, `ns-isolated-compile-cache-${process.getuid?.()}`)

test('default: a directory of ours under the temp dir, 0700, passed as NODE_COMPILE_CACHE', () => {
  const c = compileCacheFor({}, base)
  expect(c).toEqual({ dir: own(), env: { NODE_COMPILE_CACHE: own() } })
  expect(statSync(own()).mode & 0o777).toBe(0o700)
  // Again: the same directory, still fine.
  expect(compileCacheFor({}, base)?.dir).toBe(own())
})

test('refused where another could plant code in it: writable by others, or not a directory', () => {
  mkdirSync(own(), { mode: 0o700 })
  chmodSync(own(), 0o777)
  expect(compileCacheFor({}, base)).toBeUndefined()
  rmSync(own(), { recursive: true })
  mkdirSync(join(base, 'elsewhere'))
  symlinkSync(join(base, 'elsewhere'), own())
  expect(compileCacheFor({}, base)).toBeUndefined()
})

test("the user's own NODE_COMPILE_CACHE is used; NODE_DISABLE_COMPILE_CACHE turns it off", () => {
  const mine = join(base, 'mine')
  expect(compileCacheFor({ NODE_COMPILE_CACHE: mine }, base)).toEqual({ dir: mine, env: { NODE_COMPILE_CACHE: mine } })
  expect(statSync(mine).isDirectory()).toBe(true)
  expect(compileCacheFor({ NODE_DISABLE_COMPILE_CACHE: '1' }, base)).toBeUndefined()
})
