/**
 * Snapshots written from inside the sandbox land on the host: a new file
 * snapshot, `-u` updating it, a mismatch failing, and an inline snapshot
 * written into the test file.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project
beforeAll(() => {
  p = project('snapshots', { 'vitest.config.ts': config() })
})
afterAll(() => p.cleanup())

test('a new snapshot written inside is on disk', async () => {
  const r = await p.run(['snap'])
  expect(r.output).toContain('1 written')
  expect(r.code).toBe(0)
  expect(p.read('__snapshots__/snap.spec.ts.snap')).toContain('"value": "one"')
})

test('a mismatch fails', async () => {
  const r = await p.run(['snap'], { SNAP_VALUE: 'two' })
  expect(r.code).toBe(1)
  expect(r.output).toContain('Snapshot `file snapshot 1` mismatched')
  expect(p.read('__snapshots__/snap.spec.ts.snap')).toContain('"value": "one"')
})

test('-u updates the snapshot on disk', async () => {
  const r = await p.run(['snap', '-u'], { SNAP_VALUE: 'two' })
  expect(r.code).toBe(0)
  expect(r.output).toContain('1 updated')
  expect(p.read('__snapshots__/snap.spec.ts.snap')).toContain('"value": "two"')
})

test('an inline snapshot is written into the test file', async () => {
  const r = await p.run(['inline'])
  expect(r.code, r.output).toBe(0)
  expect(r.output).toContain('1 written')
  expect(p.read('inline.spec.ts')).toContain('"inline": "one"')
})

test('an unused __snapshots__ directory is not left behind', async () => {
  const q = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
  try {
    const r = await q.run()
    expect(r.code).toBe(0)
    expect(q.exists('__snapshots__')).toBe(false)
  } finally {
    q.cleanup()
  }
})
