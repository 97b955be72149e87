// Nothing outlives a call: after 40 calls, no process, mount or cgroup of ours is left.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createIsolatePool, isolate } from '../../dist/isolate/isolate.js'
import { leftoverCgroups } from '../cgroup/helpers.ts'
import { mountCount, pidsWithMarker, uniqueSleep, waitFor, zombieChildren } from '../helpers.ts'

/** Live children of this process (any state). */
function children(): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(name))
    } catch {}
  }
  return out
}

describe('cleanup', () => {
  it('40 calls (cold and pooled, each leaking a daemon) leave no process, mount or cgroup behind', async () => {
    const mounts = mountCount()
    const marker = uniqueSleep()
    const leak = async (m: string) => {
      const { spawn } = await import('node:child_process')
      // A daemon: its own session (setsid), not waited for; 'spawn' fires once sleep is exec'd.
      const daemon = spawn('sleep', [m], { stdio: 'ignore', detached: true })
      await new Promise((r) => daemon.on('spawn', r))
      daemon.unref()
      return process.pid
    }
    const pool = createIsolatePool({ size: 2 })
    let leaked = 0
    for (let i = 0; i < 40; i++) {
      const r = i % 2 === 0 ? await isolate(leak, { args: marker }) : await pool.run(leak, { args: marker })
      expect(r.value).toBe(2)
      leaked += r.usage.leaked.length
    }
    await pool.close()
    expect(leaked).toBe(40)
    expect(await waitFor(() => children().length === 0, 60_000), String(children())).toBe(true)
    expect(mountCount()).toBe(mounts)
    expect(zombieChildren()).toEqual([])
    expect(pidsWithMarker(marker)).toEqual([])
    expect(leftoverCgroups()).toEqual([])
  }, 120_000)
})
