import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { leftoverCgroups, MiB, NODE, runIn, tracker } from './helpers.ts'

const HOG = `${NODE} ${fileURLToPath(new URL('./fixtures/hog.mjs', import.meta.url))}`
const t = tracker()
afterEach(async () => {
  await t.closeAll()
  expect(leftoverCgroups()).toEqual([])
})

describe('memory cap (real cgroup)', { tags: ['root'] }, () => {
  it('OOM-kills a memory hog at 128M, reports it, and leaves the host alone', async () => {
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      const cg = t.track(
        openSandboxCgroup('memhog', { memory: 128 * MiB }, { rootless: false, unenforceable: 'error' }),
      )
      expect(cg?.enforced.memory).toBe(true)
      if (!cg) return
      const r = await runIn(cg, HOG)
      expect(r.signal).toBe('SIGKILL')
      const usage = await cg.close()
      expect(usage.oomKills).toBeGreaterThanOrEqual(1)
      expect(usage.memoryPeakBytes).toBeLessThanOrEqual(128 * MiB)
      expect(usage.memoryPeakBytes).toBeGreaterThan(100 * MiB)
      expect(bystander.exitCode).toBeNull()
      expect(bystander.signalCode).toBeNull()
    } finally {
      bystander.kill('SIGKILL')
    }
  })

  it('counts a grandchild OOM kill while the top process exits 0', async () => {
    const cg = t.track(
      openSandboxCgroup('grandchild', { memory: 128 * MiB }, { rootless: false, unenforceable: 'error' }),
    )
    if (!cg) throw new Error('no cgroup')
    // sh → sh → node hog; the outer sh ignores the inner failure.
    const r = await runIn(cg, `sh -c "sh -c '${HOG}'; exit 0"`)
    expect(r.code).toBe(0)
    expect(cg.read().oomKills).toBeGreaterThanOrEqual(1)
  })
})
