import { afterEach, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { waitFor } from '../helpers.ts'
import { cpuThrottling, leftoverCgroups, startIn, tracker } from './helpers.ts'

const t = tracker()
afterEach(async () => {
  await t.closeAll()
  expect(leftoverCgroups()).toEqual([])
})

it('two CPU spinners under cpu 0.2 are throttled to a fifth of a core, by the cgroup’s own counters', {
  tags: ['root'],
}, async () => {
  const cg = t.track(openSandboxCgroup('cpuspin', { cpu: 0.2 }, { rootless: false, unenforceable: 'error' }))
  if (!cg) throw new Error('no cgroup')
  expect(cg.enforced.cpu).toBe(true)
  // Two spinners want two cores: ten times the cap, so they run into it even on a busy host.
  const { exited } = startIn(cg, `sh -c 'while :; do :; done & while :; do :; done'`)
  const cpuMs = () => {
    const u = cg.read()
    return (u.cpuUserMs ?? 0) + (u.cpuSystemMs ?? 0)
  }
  expect(await waitFor(() => cpuMs() >= 300, 60_000)).toBe(true)
  // The throttled time is added as a throttled period ends: polled (at load in the v2 VM it read 0
  // with throttled periods counted).
  expect(await waitFor(() => cpuThrottling(cg).throttledMs > 0, 60_000)).toBe(true)
  const { periods, throttled, throttledMs } = cpuThrottling(cg)
  const used = cpuMs()
  await cg.killAll()
  expect((await exited).signal).toBe('SIGKILL')
  // CPU time, not wall time: the kernel throttled the cgroup, and over the
  // 100 ms periods in which it had work it got at most a fifth of each.
  expect(throttled).toBeGreaterThan(0)
  expect(throttledMs).toBeGreaterThan(0)
  expect(used / (periods * 100)).toBeLessThan(0.3)
})
