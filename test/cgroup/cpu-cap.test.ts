import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { leftoverCgroups, NODE, runIn, tracker } from './helpers.ts'

const BURN = fileURLToPath(new URL('./fixtures/burn.mjs', import.meta.url))
const t = tracker()
afterEach(async () => {
  await t.closeAll()
  expect(leftoverCgroups()).toEqual([])
})

it('a CPU burner under cpu 0.5 takes about twice its CPU time in wall time', { tags: ['root'] }, async () => {
  const cg = t.track(openSandboxCgroup('cpuburn', { cpu: 0.5 }, { rootless: false, unenforceable: 'error' }))
  if (!cg) throw new Error('no cgroup')
  expect(cg.enforced.cpu).toBe(true)
  const r = await runIn(cg, `${NODE} ${BURN} 800`)
  expect(r.code).toBe(0)
  const { cpuMs, wallMs } = JSON.parse(r.stdout) as { cpuMs: number; wallMs: number }
  // Ratio measured inside the child; never gate on absolute wall time.
  const ratio = wallMs / cpuMs
  expect(ratio).toBeGreaterThan(1.6)
  expect(ratio).toBeLessThan(2.6)
})
