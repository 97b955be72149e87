import { existsSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { waitFor } from '../helpers.ts'
import { cappedDir, FORKBOMB, leftoverCgroups, startIn, tracker } from './helpers.ts'

const t = tracker()
afterEach(async () => {
  await t.closeAll()
  expect(leftoverCgroups()).toEqual([])
})

it('contains a fork bomb at pids 64, kills all of it, and removes the cgroup on close', {
  tags: ['root'],
}, async () => {
  const cg = t.track(openSandboxCgroup('forkbomb', { pids: 64 }, { rootless: false, unenforceable: 'error' }))
  if (!cg) throw new Error('no cgroup')
  expect(cg.enforced.pids).toBe(true)
  // It stays at its cap however loaded the machine is (see FORKBOMB).
  const { exited } = startIn(cg, FORKBOMB)
  // The cgroup that holds the cap (v1: the pids hierarchy's; v2: the one cgroup, or an ancestor of where the tasks are).
  const pidsFile = cg.procsFiles.find((f) => cappedDir(f, 'pids.max') !== undefined) as string
  const capped = cappedDir(pidsFile, 'pids.max') as string
  // It really ran into the cap: the kernel refused a fork (pids.events `max`).
  const refusals = () => Number(readFileSync(`${capped}/pids.events`, 'utf8').split(' ')[1])
  expect(await waitFor(() => refusals() > 0, 30_000)).toBe(true)
  // Held at the cap (polled: on a loaded machine the bomb takes a while to get there).
  const held = () => readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).length
  expect(await waitFor(() => held() > 60, 30_000)).toBe(true)
  const usage = cg.read()
  if (existsSync(`${capped}/pids.peak`)) expect(usage.pidsPeak).toBeLessThanOrEqual(64)

  await cg.killAll()
  for (const f of cg.procsFiles) expect(readFileSync(f, 'utf8')).toBe('')
  await exited
  const final = await cg.close()
  expect(final.pidsPeak).toBeLessThanOrEqual(64)
  for (const f of cg.procsFiles) expect(existsSync(dirname(f))).toBe(false)
})
