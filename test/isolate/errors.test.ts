// A thrown error comes back as an Error: name, message, stack into the caller's file, own properties, cause.
import { describe, expect, it } from 'vitest'
import { isolate } from '../../dist/isolate/isolate.js'
import { resolvedInstead } from './expect-rejection.ts'

describe('errors', () => {
  it('keeps name, message, own properties and a stack pointing into this file', async () => {
    const err = await isolate(() => {
      const e = new RangeError('port out of range') as RangeError & Record<string, unknown>
      e.code = 'E_PORT'
      e.details = { port: 70_000, tried: [1, 2] }
      e.when = new Date(0)
      e.callback = () => 1 // cannot cross: named in droppedProperties
      throw e
    }).then(resolvedInstead, (e: unknown) => e as Error & Record<string, unknown>)
    expect(err).toBeInstanceOf(RangeError)
    expect(err.name).toBe('RangeError')
    expect(err.message).toBe('port out of range')
    expect(err.code).toBe('E_PORT')
    expect(err.details).toEqual({ port: 70_000, tried: [1, 2] })
    expect(err.when).toEqual(new Date(0))
    expect(err.droppedProperties).toEqual(['callback'])
    // The first frame is the function's line in this file; the caller's frames follow.
    const frames = (err.stack ?? '').split('\n').filter((l) => l.includes('errors.test.ts'))
    expect(frames.length).toBeGreaterThanOrEqual(2)
    expect(err.stack).not.toContain('child-entry')
    expect(err.stack?.split('\n')[0]).toBe('RangeError: port out of range')
  })

  it('the stack line is the throwing line of a plain JavaScript caller', async () => {
    const { runScript } = await import('../helpers.ts')
    const { json, stderr } = runScript(`
import { isolate } from '@dist/isolate/isolate.js'
try {
  await isolate(() => {
    const x = 1
    throw new Error('line five')
  })
} catch (e) {
  console.log(JSON.stringify(e.stack.split('\\n')[1]))
}
`)
    expect(json, stderr).toMatch(/script\.mjs:6:11\)?$/)
  })

  it('keeps a custom error class name and a cause chain', async () => {
    const err = await isolate(() => {
      class ValidationError extends Error {
        override name = 'ValidationError'
        field = 'email'
      }
      throw new ValidationError('bad email', { cause: new TypeError('not a string') })
    }).then(resolvedInstead, (e: unknown) => e as Error & { field?: string })
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('ValidationError')
    expect(err.field).toBe('email')
    expect(err.cause).toBeInstanceOf(TypeError)
    expect((err.cause as Error).message).toBe('not a string')
  })

  it('rethrows non-Error values as they were', async () => {
    await expect(
      isolate(() => {
        throw 'a string'
      }),
    ).rejects.toBe('a string')
    await expect(
      isolate(() => {
        throw { code: 7 }
      }),
    ).rejects.toEqual({ code: 7 })
  })

  it('an AggregateError keeps its errors', async () => {
    const err = await isolate(async () => {
      await Promise.any([Promise.reject(new Error('a')), Promise.reject(new Error('b'))])
    }).then(resolvedInstead, (e: unknown) => e as AggregateError)
    expect(err).toBeInstanceOf(AggregateError)
    expect(err.errors.map((e: Error) => e.message)).toEqual(['a', 'b'])
  })

  it('a variable from the enclosing scope gets a ReferenceError that says why', async () => {
    const outside = 42
    const err = await isolate(() => outside + 1).then(resolvedInstead, (e: unknown) => e as Error)
    expect(err).toBeInstanceOf(ReferenceError)
    expect(err.message).toMatch(/outside is not defined .*enclosing scope.*`args`/)
  })

  it("an error thrown later, from a callback, is the function's failure", async () => {
    const err = await isolate(() => {
      setTimeout(() => {
        throw new Error('from a timer')
      }, 10)
      return new Promise(() => {})
    }).then(resolvedInstead, (e: unknown) => e as Error)
    expect(err.message).toBe('from a timer')
  })

  it('process.exit before returning rejects with ENS_ISOLATE_EXITED and the usage', async () => {
    const err = await isolate(() => process.exit(3)).then(
      resolvedInstead,
      (e: unknown) => e as Error & { code: string; details: Record<string, unknown> },
    )
    expect(err.code).toBe('ENS_ISOLATE_EXITED')
    expect(err.message).toMatch(/exited with code 3/)
    expect(err.details.usage).toMatchObject({ wallMs: expect.any(Number) })
  })
})
