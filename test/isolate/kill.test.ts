// timeout and abort kill the whole sandbox — every process in it — and carry the usage so far.
import { describe, expect, it } from 'vitest'
import { isolate } from '../../dist/isolate/isolate.js'
import { pidsWithMarker, uniqueSleep, waitFor } from '../helpers.ts'
import { resolvedInstead } from './expect-rejection.ts'

/** A function that starts a child, a detached daemon, and waits forever. */
const busy = async ({ marker }: { marker: string }) => {
  const { spawn } = await import('node:child_process')
  spawn('sleep', [marker], { stdio: 'ignore' })
  spawn('/bin/sh', ['-c', `(setsid sleep ${marker} &)`], { stdio: 'ignore', detached: true })
  await new Promise(() => setInterval(() => {}, 1000))
}

describe('timeout and abort', () => {
  it('timeout kills every process of the sandbox and rejects with ENS_TIMEOUT and the usage', async () => {
    const marker = uniqueSleep()
    const p = isolate(busy, { args: { marker }, timeout: 1500 })
    expect(await waitFor(() => pidsWithMarker(marker).length >= 2, 60_000)).toBe(true)
    const err = await p.then(
      resolvedInstead,
      (e: unknown) => e as Error & { code: string; details: { usage: Record<string, unknown> } },
    )
    expect(err.code).toBe('ENS_TIMEOUT')
    expect(err.message).toMatch(/timeout of 1500 ms/)
    expect(err.details.usage).toMatchObject({ wallMs: expect.any(Number), leaksKnown: false })
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('abort kills every process of the sandbox and rejects with ENS_ABORTED', async () => {
    const marker = uniqueSleep()
    const ac = new AbortController()
    const p = isolate(busy, { args: { marker }, signal: ac.signal })
    expect(await waitFor(() => pidsWithMarker(marker).length >= 2, 60_000)).toBe(true)
    ac.abort(new Error('enough'))
    const err = await p.then(
      resolvedInstead,
      (e: unknown) => e as Error & { code: string; cause: unknown; details: { usage: unknown } },
    )
    expect(err.code).toBe('ENS_ABORTED')
    expect((err.cause as Error).message).toBe('enough')
    expect(err.details.usage).toMatchObject({ wallMs: expect.any(Number) })
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('an already aborted signal starts nothing', async () => {
    const err = await isolate(() => 1, { signal: AbortSignal.abort() }).then(
      resolvedInstead,
      (e: unknown) => e as { code: string },
    )
    expect(err.code).toBe('ENS_ABORTED')
  })

  it('a warm pool call times out the same way', async () => {
    const { createIsolatePool } = await import('../../dist/isolate/isolate.js')
    const pool = createIsolatePool({ size: 1 })
    try {
      const marker = uniqueSleep()
      const p = pool.run(busy, { args: { marker }, timeout: 1500 })
      expect(await waitFor(() => pidsWithMarker(marker).length >= 2, 60_000)).toBe(true)
      await expect(p).rejects.toMatchObject({ code: 'ENS_TIMEOUT' })
      expect(pidsWithMarker(marker)).toEqual([])
    } finally {
      await pool.close()
    }
  })
})
