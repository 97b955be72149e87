// examples/jest-app as an ordinary user runs it (npm test runs it as root,
// where the permission test is skipped: root writes anywhere): stock and
// isolated give every test the same status, the EACCES test included, and
// the jsdom file is isolated too.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isRoot, root } from '../helpers.ts'
import { type JestRun, output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const statuses = (r: JestRun) =>
  Object.fromEntries(
    r.results.testResults.flatMap((f) => f.assertionResults.map((t) => [t.fullName, t.status] as const)),
  )

describe('examples/jest-app', () => {
  it('as an ordinary user: the same status for every test, stock and isolated, the EACCES test included', async () => {
    p = project('jest-app', {}, join(root, 'examples'))
    // The user's own project (node_modules is a link to ours, left alone).
    if (isRoot) spawnSync('chown', ['-R', '-h', '65534:65534', p.dir])
    const stock = await runJest(p, ['-c', 'jest.stock.config.js'], {}, true)
    expect(stock.code, output(stock)).toBe(0)
    const isolated = await runJest(p, [], {}, true)
    expect(isolated.code, output(isolated)).toBe(0)
    expect(statuses(isolated)).toEqual(statuses(stock))
    expect(statuses(isolated)['refuses to save into a read-only directory (EACCES)']).toBe('passed')
    expect(Object.values(statuses(isolated)).every((s) => s === 'passed')).toBe(true)
    expect(isolated.stderr).toMatch(/ns-isolated: 3 files sandboxed, 0 not sandboxed/)
  })
})
