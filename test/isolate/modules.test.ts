// import() in the function resolves from the caller's file; the { module, export } form; the `from` option.
import { describe, expect, it } from 'vitest'
import { isolate } from '../../dist/isolate/isolate.js'

describe('modules', () => {
  it("import() of a relative path resolves from the caller's file (this test file)", async () => {
    const { value } = await isolate(
      async (n: number) => {
        const { double } = await import('./fixtures/helper.mjs')
        return double(n)
      },
      { args: 21 },
    )
    expect(value).toBe(42)
  })

  it("a bare specifier resolves from the caller's node_modules", async () => {
    const { value } = await isolate(async () => {
      const { Command } = await import('commander')
      const pkg = await import('ns-isolated/package.json', { with: { type: 'json' } })
      return [typeof Command, pkg.default.name]
    })
    expect(value).toEqual(['function', 'ns-isolated'])
  })

  it('runs an export of a module: { module, export }, default export by default', async () => {
    const named = await isolate<{ n: number }, { doubled: number; pid: number }>(
      { module: './fixtures/work.mjs', export: 'run' },
      { args: { n: 4 } },
    )
    expect(named.value).toEqual({ doubled: 8, pid: 2 })
    const dflt = await isolate<{ n: number }, { doubled: number; host: string }>(
      { module: './fixtures/work.mjs' },
      { args: { n: 5 } },
    )
    expect(dflt.value.doubled).toBe(10)
    expect(dflt.value.host).toBe(dflt.usage.hostname)
  })

  it('an export that is not a function is a clear error', async () => {
    await expect(isolate({ module: './fixtures/work.mjs', export: 'notAFunction' })).rejects.toThrow(
      /no function export 'notAFunction' \(it exports: default, notAFunction, run\)/,
    )
    await expect(isolate({ module: './fixtures/missing.mjs' })).rejects.toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' })
  })

  it('`from` sets the file imports resolve from', async () => {
    const from = new URL('./fixtures/', import.meta.url)
    // @ts-expect-error './helper.mjs' is resolved from `from` (fixtures/), not from this file
    const { value } = await isolate(async () => (await import('./helper.mjs')).double(3), {
      from: new URL('x.mjs', from),
    })
    expect(value).toBe(6)
    const viaModule = await isolate(
      { module: './work.mjs', export: 'run' },
      { args: { n: 1 }, from: new URL('x.mjs', from).href },
    )
    expect(viaModule.value).toMatchObject({ doubled: 2 })
  })

  it('CommonJS callers: require() in the function resolves from the caller', async () => {
    const { runScript } = await import('../helpers.ts')
    const { json, stderr } = runScript(`
import { isolate } from '@dist/isolate/isolate.js'
const { value } = await isolate(() => require('node:path').posix.join('a', 'b'))
console.log(JSON.stringify(value))
`)
    expect(json, stderr).toBe('a/b')
  })
})
