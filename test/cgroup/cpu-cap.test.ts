import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { cpuThrottling, leftoverCgroups, NODE, runIn, tracker } from './helpers.ts'

const BURN = fileURLToPath(new URL('./fixtures/burn.mjs', import.meta.url))
const t = tracker()
afterEach(async () => {
  await t.closeAll()
  expect(leftoverCgroups()).toEqual([])
})

it('a CPU burner under cpu 0.5 is throttled to half a core, by the cgroup’s own counters', async () => {
  const cg = t.track(openSandboxCgroup('cpuburn', { cpu: 0.5 }, { rootless: false, unenforceable: 'error' }))
  if (!cg) throw new Error('no cgroup')
  expect(cg.enforced.cpu).toBe(true)
  const r = await runIn(cg, `${NODE} ${BURN} 800`)
  expect(r.code).toBe(0)
  const usage = cg.read()
  const cpuMs = (usage.cpuUserMs ?? 0) + (usage.cpuSystemMs ?? 0)
  const { periods, throttled, throttledMs } = cpuThrottling(cg)
  // CPU time, not wall time: the kernel throttled the cgroup, and over the
  // 100 ms periods in which it had work it got at most half of each.
  expect(throttled).toBeGreaterThan(0)
  expect(throttledMs).toBeGreaterThan(0)
  expect(cpuMs).toBeGreaterThan(800)
  expect(cpuMs / (periods * 100)).toBeLessThan(0.6)
})
