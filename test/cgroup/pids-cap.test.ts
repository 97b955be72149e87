import { existsSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { openSandboxCgroup } from '../../src/cgroup/index.ts'
import { leftoverCgroups, startIn, tracker } from './helpers.ts'

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
  const { exited } = startIn(cg, `python3 ${fileURLToPath(new URL('./fixtures/forkbomb.py', import.meta.url))}`)
  await new Promise((r) => setTimeout(r, 500))
  const pidsFile = cg.procsFiles.find((f) => f.includes('/pids/')) as string
  const during = readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).length
  expect(during).toBeGreaterThan(32) // it really ran into the cap
  const usage = cg.read()
  if (existsSync(`${dirname(pidsFile)}/pids.peak`)) expect(usage.pidsPeak).toBeLessThanOrEqual(64)
  expect(Number(readFileSync(`${dirname(pidsFile)}/pids.events`, 'utf8').split(' ')[1])).toBeGreaterThan(0)

  await cg.killAll()
  for (const f of cg.procsFiles) expect(readFileSync(f, 'utf8')).toBe('')
  await exited
  const final = await cg.close()
  expect(final.pidsPeak).toBeLessThanOrEqual(64)
  for (const f of cg.procsFiles) expect(existsSync(dirname(f))).toBe(false)
})
