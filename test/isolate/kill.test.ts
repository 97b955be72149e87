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

/**
 * Starts a sandbox with a timeout until its processes were up before the
 * timeout fired: on a loaded machine starting the sandbox can take longer
 * than the timeout, which then doubles (1.5 s, 3 s, … 48 s).
 */
async function timeoutOnceUp(
  start: (marker: string, timeout: number) => Promise<unknown>,
): Promise<{ err: unknown; marker: string; up: boolean; timeout: number }> {
  for (let timeout = 1500; ; timeout *= 2) {
    const marker = uniqueSleep()
    let up = false
    let settled = false
    const outcome = start(marker, timeout)
      .then(resolvedInstead, (e: unknown) => e)
      .finally(() => {
        settled = true
      })
    // Polled until it settles: once it has, its processes are killed and cannot be seen.
    const watched = waitFor(() => {
      if (!settled && pidsWithMarker(marker).length >= 2) up = true
      return settled || up
    })
    const err = await outcome
    await watched
    if (up || timeout >= 48_000) return { err, marker, up, timeout }
  }
}

describe('timeout and abort', () => {
  it('timeout kills every process of the sandbox and rejects with ENS_TIMEOUT and the usage', async () => {
    const { err, marker, up, timeout } = await timeoutOnceUp((marker, timeout) =>
      isolate(busy, { args: { marker }, timeout }),
    )
    expect(up).toBe(true)
    const e = err as Error & { code: string; details: { usage: Record<string, unknown> } }
    expect(e.code).toBe('ENS_TIMEOUT')
    expect(e.message).toMatch(new RegExp(`timeout of ${timeout} ms`))
    expect(e.details.usage).toMatchObject({ wallMs: expect.any(Number), leaksKnown: false })
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
      const { err, marker, up } = await timeoutOnceUp((marker, timeout) =>
        pool.run(busy, { args: { marker }, timeout }),
      )
      expect(up).toBe(true)
      expect(err).toMatchObject({ code: 'ENS_TIMEOUT' })
      expect(pidsWithMarker(marker)).toEqual([])
    } finally {
      await pool.close()
    }
  })
})
