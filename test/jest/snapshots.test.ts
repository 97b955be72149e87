// Snapshots are written by the worker, inside the sandbox: they must land in
// the real project (the snapshot directories are writable binds), and -u and
// obsolete-snapshot cleanup must work as with stock Jest.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

describe('jest: snapshots', () => {
  it('are written to the project, checked, updated with -u, and obsolete ones removed', async () => {
    p = project('snapshots')
    const snap = join(p.dir, '__snapshots__', 'values.test.js.snap')

    const first = await runJest(p)
    expect(first.code, output(first)).toBe(0)
    expect(first.results.snapshot.added).toBe(2)
    expect(readFileSync(snap, 'utf8')).toContain('"value": "first"')
    // a file without snapshots leaves no empty __snapshots__ directory behind
    expect(existsSync(join(p.dir, 'nested', '__snapshots__'))).toBe(false)

    const mismatch = await runJest(p, [], { SNAP_VALUE: 'second' })
    expect(mismatch.code, output(mismatch)).toBe(1)
    expect(readFileSync(snap, 'utf8')).toContain('"value": "first"')

    const updated = await runJest(p, ['-u'], { SNAP_VALUE: 'second' })
    expect(updated.code, output(updated)).toBe(0)
    expect(updated.results.snapshot.updated).toBe(1)
    expect(readFileSync(snap, 'utf8')).toContain('"value": "second"')

    // an obsolete snapshot (its test is gone) is removed by -u, from inside the sandbox
    const obsolete = await runJest(p, ['-u'], { SNAP_VALUE: 'second', DROP_SECOND: '1' })
    expect(obsolete.code, output(obsolete)).toBe(0)
    expect(readFileSync(snap, 'utf8')).not.toContain('another value')

    // an obsolete snapshot file (its test file is gone) is removed by -u, by Jest's parent process
    rmSync(join(p.dir, 'values.test.js'))
    const removed = await runJest(p, ['-u'])
    expect(removed.results.snapshot.filesRemoved, output(removed)).toBe(1)
    expect(existsSync(snap)).toBe(false)
  })

  it("follow the project's snapshotResolver: its directory is the writable one", async () => {
    p = project('snapshots')
    const r = await runJest(p, ['--config', 'jest.resolver.config.js', 'values'])
    expect(r.code, output(r)).toBe(0)
    expect(r.results.snapshot.added).toBe(2)
    expect(readFileSync(join(p.dir, 'snaps', 'values.test.js.snap'), 'utf8')).toContain('"value": "first"')
    expect(existsSync(join(p.dir, '__snapshots__'))).toBe(false)
  })

  it('reuse: written, checked and updated across resets of the sandbox', async () => {
    p = project('snapshots')
    const snap = join(p.dir, '__snapshots__', 'values.test.js.snap')
    const reuse = ['--config', 'jest.reuse.config.js', '--maxWorkers=1']
    const first = await runJest(p, reuse)
    expect(first.code, output(first)).toBe(0)
    expect(first.results.snapshot.added).toBe(2)
    const files = first.usage?.files ?? []
    expect(new Set(files.map((f) => f.sandbox)).size).toBe(1)
    expect(files.find((f) => f.file === 'nested/no-snapshots.test.js')?.reset?.rootReset).toBe(true)
    const mismatch = await runJest(p, reuse, { SNAP_VALUE: 'second' })
    expect(mismatch.code, output(mismatch)).toBe(1)
    const updated = await runJest(p, [...reuse, '-u'], { SNAP_VALUE: 'second' })
    expect(updated.code, output(updated)).toBe(0)
    expect(updated.results.snapshot.updated).toBe(1)
    expect(readFileSync(snap, 'utf8')).toContain('"value": "second"')
  })
})
