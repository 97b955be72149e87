import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { leftoverCgroups, MiB, NODE, runIn, tracker } from './helpers.ts'

const BURN = fileURLToPath(new URL('./fixtures/burn.mjs', import.meta.url))
const t = tracker()
afterEach(async () => {
  await t.closeAll()
  expect(leftoverCgroups()).toEqual([])
})

it('reports CPU within ±25% and peak memory of a child that allocates 200 MB and burns 1 s', {
  tags: ['root'],
}, async () => {
  const cg = t.track(openSandboxCgroup('figures', {}, { rootless: false, unenforceable: 'error' }))
  if (!cg) throw new Error('no cgroup')
  const before = cg.read()
  const r = await runIn(cg, `${NODE} ${BURN} 1000 200`)
  expect(r.code).toBe(0)
  const usage = await cg.close()
  expect(usage.source).toBe('cgroup')
  // The child counts its own CPU (every thread, from its start): the
  // cgroup must agree within ±25%, and the burn alone is 1 s.
  const cpu = (usage.cpuUserMs ?? 0) + (usage.cpuSystemMs ?? 0) - ((before.cpuUserMs ?? 0) + (before.cpuSystemMs ?? 0))
  const inside = JSON.parse(r.stdout) as { cpuMs: number; processCpuMs: number }
  expect(inside.cpuMs).toBeGreaterThanOrEqual(1000)
  expect(cpu).toBeGreaterThan(inside.processCpuMs * 0.75)
  expect(cpu).toBeLessThan(inside.processCpuMs * 1.25)
  expect(cpu).toBeGreaterThan(1000)
  expect(usage.memoryPeakBytes).toBeGreaterThanOrEqual(200 * MiB)
  expect(usage.memoryPeakBytes).toBeLessThan(400 * MiB)
  expect(usage.memoryPeakIncludesCache).toBe(true)
  expect(usage.pidsPeak).toBeGreaterThanOrEqual(7) // a bare Node has ~7 threads
  expect(usage.oomKills).toBe(0)
})
