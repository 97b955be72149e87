/**
 * Caps: a fork bomb stops at the pids cap and a memory hog is OOM-killed at
 * the memory cap; each file fails with a message naming the cap, the usage
 * report marks it, and nothing of theirs is left on the host.
 */
import { afterEach, expect, test } from 'vitest'
import { config, hostPidsWith, type Project, project, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('a fork bomb hits the pids cap: the test fails naming it, the report marks it', { tags: ['root'] }, async () => {
  const sleep = uniqueSleep()
  p = project('caps', { 'vitest.config.ts': config("{ pids: 48, report: { json: 'report.json' } }") })
  const r = await p.run(['fork-bomb', 'light'], { NSV_SLEEP: sleep })
  expect(r.code).toBe(1)
  expect(r.output).toMatch(/FAIL .*fork-bomb\.spec\.ts > forks far more than the pids cap/)
  expect(r.output).toContain('exceeded pids cap 48: fork refused')
  expect(r.output).toMatch(/1 failed.*\| 1 passed/)
  const report = JSON.parse(p.read('report.json'))
  const bomb = report.files.find((f: { file: string }) => f.file === 'fork-bomb.spec.ts')
  expect(bomb.capHit).toMatchObject({ cap: 'pids', limit: 48 })
  expect(bomb.pidsPeak).toBe(48)
  const light = report.files.find((f: { file: string }) => f.file === 'light.spec.ts')
  expect(light.capHit).toBeUndefined()
  expect(hostPidsWith(sleep)).toEqual([])
})

test('a memory hog is OOM-killed at the memory cap: its file fails naming the cap', { tags: ['root'] }, async () => {
  p = project('caps', { 'vitest.config.ts': config("{ memory: '192M', report: { json: 'report.json' } }") })
  const r = await p.run(['memory-hog', 'light'])
  expect(r.code).toBe(1)
  expect(r.output).toMatch(/FAIL .*memory-hog\.spec\.ts/)
  expect(r.output).toContain('memory-hog.spec.ts exceeded memory cap 192 MiB')
  expect(r.output).toContain('OOM-killed')
  expect(r.output).toMatch(/Test Files +1 failed \| 1 passed/)
  expect(r.output).not.toContain('Worker exited unexpectedly')
  const report = JSON.parse(p.read('report.json'))
  const hog = report.files.find((f: { file: string }) => f.file === 'memory-hog.spec.ts')
  expect(hog.capHit).toMatchObject({ cap: 'memory', limit: 192 * 1024 * 1024 })
  expect(hog.oomKills).toBeGreaterThan(0)
  expect(r.output).toMatch(/memory!/)
})
