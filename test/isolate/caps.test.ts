// Caps: a sandbox that runs into its memory or pids cap rejects with ENS_CAP_EXCEEDED naming the cap.
// Needs a host that can enforce them (root with writable cgroups): detected, not assumed.
import { describe, expect, it } from 'vitest'
import { describeCgroupSupport } from '../../dist/cgroup/index.js'
import { isolate } from '../../dist/isolate/isolate.js'
import { leftoverCgroups } from '../cgroup/helpers.ts'
import { resolvedInstead } from './expect-rejection.ts'

const support = describeCgroupSupport({ rootless: process.getuid?.() !== 0 })
const memoryCap = support.canEnforce.memory
const pidsCap = support.canEnforce.pids
/** Why a cap test is skipped here (listed at the end of `npm test`). */
const noCap = (cap: string) =>
  `this host cannot enforce a ${cap} cap for this user (root with writable cgroups, or a delegated cgroup v2)`

describe('caps', () => {
  it('a memory hog under memory: 128M rejects with ENS_CAP_EXCEEDED (memory) and the OOM count', async (ctx) => {
    if (!memoryCap) ctx.skip(noCap('memory'))
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

  it('a function well under its memory cap returns normally, with the cap reported as enforced', async (ctx) => {
    if (!memoryCap) ctx.skip(noCap('memory'))
    const { value, usage } = await isolate(() => 'small', { memory: '256M' })
    expect(value).toBe('small')
    expect(usage.capsEnforced.memory).toBe(true)
    expect(usage.capHit).toBeUndefined()
  })

  it('a fork bomb under pids: 32 rejects with ENS_CAP_EXCEEDED (pids)', async (ctx) => {
    if (!pidsCap) ctx.skip(noCap('pids'))
    const err = await isolate(
      async () => {
        const { spawn } = await import('node:child_process')
        let refused = 0
        for (let i = 0; i < 60; i++) {
          spawn('sleep', ['5'], { stdio: 'ignore' }).on('error', () => {
            refused++
          })
        }
        await new Promise((r) => setTimeout(r, 300))
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
