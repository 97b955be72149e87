// Values cross by structured clone, both ways; what cannot be cloned is named.
import { describe, expect, expectTypeOf, it } from 'vitest'
import { type IsolateResult, isolate } from '../../dist/isolate/isolate.js'
import { resolvedInstead } from './expect-rejection.ts'

describe('values', () => {
  it('returns values of many types intact', async () => {
    const { value } = await isolate(() => {
      const shared = { s: 1 }
      return {
        map: new Map<unknown, unknown>([
          ['a', 1],
          [2, { b: [3] }],
        ]),
        set: new Set([1, 'two', 3n]),
        date: new Date(86_400_000),
        big: 2n ** 70n,
        u8: new Uint8Array([1, 2, 255]),
        f64: new Float64Array([1.5, -0]),
        buf: new ArrayBuffer(3),
        regex: /a+b/gi,
        nested: { deep: { deeper: [1, [2, [3, { x: null }]]] } },
        undef: undefined,
        nan: Number.NaN,
        cycle: [shared, shared],
        str: 'ünïcødé ✓',
      }
    })
    expect(value.map).toEqual(
      new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
    )
    expect(value.set).toEqual(new Set([1, 'two', 3n]))
    expect(value.date).toBeInstanceOf(Date)
    expect(value.date.getTime()).toBe(86_400_000)
    expect(value.big).toBe(2n ** 70n)
    expect(value.u8).toBeInstanceOf(Uint8Array)
    expect([...value.u8]).toEqual([1, 2, 255])
    expect(value.f64).toBeInstanceOf(Float64Array)
    expect(Object.is(value.f64[1], -0)).toBe(true)
    expect(value.buf.byteLength).toBe(3)
    expect(value.regex.source).toBe('a+b')
    expect(value.regex.flags).toBe('gi')
    expect(value.nested).toEqual({ deep: { deeper: [1, [2, [3, { x: null }]]] } })
    expect('undef' in value && value.undef === undefined).toBe(true)
    expect(value.nan).toBeNaN()
    expect(value.cycle[0]).toBe(value.cycle[1])
    expect(value.str).toBe('ünïcødé ✓')
  })

  it('returns undefined, primitives and awaited promises', async () => {
    expect((await isolate(() => undefined)).value).toBeUndefined()
    expect((await isolate(() => null)).value).toBeNull()
    expect((await isolate(async () => 'later')).value).toBe('later')
    expect((await isolate(() => 7)).value).toBe(7)
  })

  it('passes args by structured clone', async () => {
    const args = { when: new Date(5), ids: new Set([1, 2]), n: 10n, bytes: new Uint8Array([9]) }
    const { value } = await isolate(
      (a: typeof args) => ({
        when: a.when.getTime(),
        ids: [...a.ids],
        n: a.n * 2n,
        bytes: a.bytes[0],
        isDate: a.when instanceof Date,
      }),
      { args },
    )
    expect(value).toEqual({ when: 5, ids: [1, 2], n: 20n, bytes: 9, isDate: true })
  })

  it('a return value that cannot be cloned rejects with a TypeError naming what', async () => {
    const err = await isolate(() => ({ ok: 1, nested: { handler: function onRequest() {} } })).then(
      resolvedInstead,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TypeError)
    expect((err as Error).message).toMatch(/value\.nested\.handler is a function \(onRequest\)/)
    const native = await isolate(async () => {
      const net = await import('node:net')
      const server = net.createServer()
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
      return { server }
    }).then(resolvedInstead, (e: unknown) => e)
    expect(native).toBeInstanceOf(TypeError)
    expect((native as Error).message).toMatch(/value\.server/)
    const fn = await isolate(() => () => 1).then(resolvedInstead, (e: unknown) => e)
    expect((fn as Error).message).toMatch(/value is a function/)
  })

  it('args that cannot be cloned are refused before anything starts', async () => {
    await expect(isolate(() => 1, { args: { cb: () => 1 } })).rejects.toThrow(
      /`args` cannot be cloned.*args\.cb is a function/,
    )
    await expect(isolate(() => 1, { args: [Symbol('s')] })).rejects.toThrow(TypeError)
  })

  it('accepts method shorthand and named functions', async () => {
    const obj = {
      twice(n: number) {
        return n * 2
      },
    }
    expect((await isolate(obj.twice, { args: 21 })).value).toBe(42)
    expect(
      (
        await isolate(
          function named(n: number) {
            return n + 1
          },
          { args: 1 },
        )
      ).value,
    ).toBe(2)
  })

  it('refuses bound and native functions, and classes', async () => {
    await expect(isolate(Math.max)).rejects.toThrow(/native or bound/)
    await expect(isolate((() => 1).bind(null))).rejects.toThrow(/native or bound/)
    await expect(isolate(class {} as never)).rejects.toThrow(/class/)
  })

  it('types args and the result', () => {
    const p = isolate(async ({ port }: { port: number }) => ({ port, ok: true as const }), { args: { port: 3000 } })
    expectTypeOf(p).toEqualTypeOf<Promise<IsolateResult<{ port: number; ok: true }>>>()
    // @ts-expect-error args must match the function's parameter
    void isolate(({ port }: { port: number }) => port, { args: { port: 'x' } }).catch(() => {})
    return p
  })
})
