// Caps: a sandbox that runs into its memory or pids cap rejects with ENS_CAP_EXCEEDED naming the cap.
// As root the host's cgroups enforce them (the 'root' tag, as for every real cap test).
import { describe, expect, it } from 'vitest'
import { isolate } from '../../dist/isolate/isolate.js'
import { leftoverCgroups } from '../cgroup/helpers.ts'
import { resolvedInstead } from './expect-rejection.ts'

describe('caps', { tags: ['root'] }, () => {
  it('a memory hog under memory: 128M rejects with ENS_CAP_EXCEEDED (memory) and the OOM count', async () => {
    const err = await isolate(
      () => {
        const hold: Buffer[] = []
        for (;;) hold.push(Buffer.alloc(16 * 1024 * 1024, 1))
      },
      { memory: '128M' },
    ).then(
      resolvedInstead,
      (e: unknown) =>
        e as Error & {
          code: string
          details: { cap: string; usage: { oomKills: number; capsEnforced: { memory: boolean } } }
        },
    )
    expect(err.code).toBe('ENS_CAP_EXCEEDED')
    expect(err.details.cap).toBe('memory')
    expect(err.message).toMatch(/memory cap/)
    expect(err.details.usage.oomKills).toBeGreaterThanOrEqual(1)
    expect(err.details.usage.capsEnforced.memory).toBe(true)
    expect(leftoverCgroups()).toEqual([])
  })

  it('a function well under its memory cap returns normally, with the cap reported as enforced', async () => {
    const { value, usage } = await isolate(() => 'small', { memory: '256M' })
    expect(value).toBe('small')
    expect(usage.capsEnforced.memory).toBe(true)
    expect(usage.capHit).toBeUndefined()
  })

  it('a fork bomb under pids: 32 rejects with ENS_CAP_EXCEEDED (pids)', async () => {
    const err = await isolate(
      async () => {
        const { spawn } = await import('node:child_process')
        let refused = 0
        // Each child says 'spawn' or 'error' (EAGAIN at the cap).
        const started = Array.from({ length: 60 }, () => {
          const child = spawn('sleep', ['5'], { stdio: 'ignore' })
          return new Promise<void>((settled) => {
            child.once('spawn', settled)
            child.once('error', () => {
              refused++
              settled()
            })
          })
        })
        await Promise.all(started)
        return { refused }
      },
      { pids: 32 },
    ).then(
      resolvedInstead,
      (e: unknown) =>
        e as Error & {
          code: string
          details: { cap: string; value?: { refused: number }; usage: { pidsPeak: number | null } }
        },
    )
    expect(err.code).toBe('ENS_CAP_EXCEEDED')
    expect(err.details.cap).toBe('pids')
    expect(err.details.value?.refused).toBeGreaterThan(0)
    expect(err.details.usage.pidsPeak).toBe(32)
  })
})
