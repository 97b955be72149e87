// The warm pool: sandboxes started ahead, never reused — each call sees a namespace nobody used.
import { afterAll, describe, expect, it } from 'vitest'
import { createIsolatePool, isolate } from '../../dist/isolate/isolate.js'
import { pidsWithMarker, uniqueSleep, waitFor } from '../helpers.ts'

/** Leaves traces everywhere it can, and reports what it finds of earlier calls. */
const visit = async ({ marker }: { marker: string }) => {
  const fs = await import('node:fs')
  const os = await import('node:os')
  const { spawn } = await import('node:child_process')
  const found = {
    tmp: fs.readdirSync('/tmp'),
    pids: fs
      .readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b),
    host: os.hostname(),
    pid: process.pid,
  }
  fs.writeFileSync(`/tmp/trace-${marker}`, 'x')
  // A daemon: its own session (setsid), not waited for; 'spawn' fires once sleep is exec'd.
  const daemon = spawn('sleep', [marker], { stdio: 'ignore', detached: true })
  await new Promise((r) => daemon.on('spawn', r))
  daemon.unref()
  return found
}

describe('warm pool', () => {
  const pool = createIsolatePool({ size: 2 })
  afterAll(() => pool.close())

  it('gives every call a fresh namespace: hostname, /tmp and pid namespace of the previous call are gone', async () => {
    await pool.ready()
    const marker = uniqueSleep()
    const seen = []
    for (let i = 0; i < 4; i++) {
      const { value, usage } = await pool.run(visit, { args: { marker } })
      expect(usage.leaked).toEqual([{ pid: expect.any(Number), command: `sleep ${marker}` }])
      seen.push(value)
    }
    expect(new Set(seen.map((s) => s.host)).size).toBe(4)
    for (const s of seen) {
      expect(s.pid).toBe(2)
      expect(s.tmp.filter((f) => f.startsWith('trace-'))).toEqual([]) // no earlier call's file
      expect(s.pids).toEqual([1, 2]) // no earlier call's daemon, nothing but PID 1 and us
    }
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('isolate(fn, { pool }) shares one pool per sandbox options', async () => {
    const a = await isolate(() => process.pid, { pool: { size: 2 } })
    const b = await isolate(() => process.pid, { pool: { size: 2 } })
    expect([a.value, b.value]).toEqual([2, 2])
    expect(a.usage.hostname).not.toBe(b.usage.hostname)
  })

  it("routes a call's output by its own stdio option", async () => {
    const r = await pool.run(() => console.log('pooled'), { stdio: 'pipe' })
    expect(r.stdout).toBe('pooled\n')
  })

  it("refuses sandbox options on a call (they are the pool's) and runs nothing after close", async () => {
    // @ts-expect-error memory is a pool option
    await expect(pool.run(() => 1, { memory: '1G' })).rejects.toThrow(/unknown option `memory` for a pool call/)
    const p = createIsolatePool({ size: 1 })
    await p.close()
    await expect(p.run(() => 1)).rejects.toThrow(/closed/)
  })

  it('spares do not keep the process alive, and die with it', async () => {
    const { runScript } = await import('../helpers.ts')
    const marker = uniqueSleep()
    // The script creates a pool and returns without closing it: it must exit on its own.
    const r = runScript(`
import { createIsolatePool } from '@dist/isolate/isolate.js'
const pool = createIsolatePool({ size: 2, execArgv: ['--title=spare-${marker}'] })
await pool.ready()
console.log(JSON.stringify((await pool.run(() => 5)).value))
`)
    expect(r.json, r.stderr).toBe(5)
    expect(await waitFor(() => pidsWithMarker(`spare-${marker}`).length === 0, 60_000)).toBe(true)
  })
})
