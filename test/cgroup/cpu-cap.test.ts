import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
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

it('a CPU burner under cpu 0.5 gets at most half a core per period, and the kernel throttles it', async () => {
  const cg = t.track(openSandboxCgroup('cpuburn', { cpu: 0.5 }, { rootless: false, unenforceable: 'error' }))
  if (!cg) throw new Error('no cgroup')
  expect(cg.enforced.cpu).toBe(true)
  const r = await runIn(cg, `${NODE} ${BURN} 800`)
  expect(r.code).toBe(0)
  // The kernel's own counters of the cap's periods, not wall time (which a
  // busy machine stretches): CPU used per 100 ms period it ran in.
  const procs = cg.procsFiles.find((f) => f.includes('/cpu/') || f.includes('/cpu,')) ?? (cg.procsFiles[0] as string)
  const stat = readFileSync(join(dirname(procs), 'cpu.stat'), 'utf8')
  const field = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(stat)?.[1])
  const usage = cg.read()
  const usedMs = (usage.cpuUserMs ?? 0) + (usage.cpuSystemMs ?? 0)
  expect(usedMs).toBeGreaterThan(800)
  expect(field('nr_throttled')).toBeGreaterThan(0)
  expect(usedMs / (field('nr_periods') * 100)).toBeLessThanOrEqual(0.55)
})
