/**
 * A project that already sets `test.pool`, with the plugin: files in the
 * 'ns-isolated' environment run sandboxed whatever the pool; the other files
 * keep the pool the project asked for ('forks' or 'threads'); a pool the
 * ns-isolated pool cannot stand in for (the vm pools, a custom pool) is left
 * alone, with a warning at start that names the fix. Files not sandboxed are
 * listed in the report, with the reason.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

/** A file not isolated that says how it runs: a thread of Vitest's own process, or a process of its own. */
const where = `import { isMainThread } from 'node:worker_threads'
import { expect, test } from 'vitest'
test('says where it runs', () => {
  expect(process.env.NS_ISOLATED_INSIDE).toBeUndefined()
  console.log(\`plain file: \${isMainThread ? 'process' : 'thread'}\`)
})
`
// (the docblock's name split, or Vitest would read it as this file's own)
const isolated = `// @vitest-${'environment'} ns-isolated
import { expect, test } from 'vitest'
test('runs in a sandbox', () => {
  expect(process.pid).toBe(2)
})
`

function withPool(pool: string): Project {
  return project(undefined, {
    'isolated.spec.ts': isolated,
    'plain.spec.ts': where,
    'vitest.config.ts': config('{}', `{ environment: 'node', pool: '${pool}' }`),
  })
}

for (const [pool, runs] of [
  ['threads', 'thread'],
  ['forks', 'process'],
] as const) {
  test(`pool '${pool}': the isolated file runs sandboxed, the other stays on '${pool}', no warning`, async () => {
    p = withPool(pool)
    const r = await p.run()
    expect(r.code, r.output).toBe(0)
    expect(r.output).toContain('2 passed')
    expect(r.output).toContain(`plain file: ${runs}`)
    expect(r.output).toContain('ns-isolated usage (1 sandboxed file, 1 not sandboxed)')
    expect(r.output).toContain('environment node: not sandboxed, see docs/vitest.md#any-environment\n    plain.spec.ts')
    expect(r.output).not.toContain('cannot stand in for')
  })
}

test("pool 'vmThreads': left as it is, with a warning naming the fix; the isolated file is refused there", async () => {
  p = withPool('vmThreads')
  const r = await p.run()
  expect(r.output).toContain(
    `ns-isolated: project "root" runs in pool 'vmThreads', which the ns-isolated pool cannot stand in for`,
  )
  expect(r.output).toContain("Give that project pool 'forks' (the default) or 'threads'")
  expect(r.output).toContain('plain file: thread')
  // (a vm pool reports an environment's refusal as an error of the run, not of the file)
  expect(r.output).toContain("asks for the 'ns-isolated' environment, but it is not running in a sandbox")
  // Its file that ran is listed as not sandboxed, with the reason (the refused one did not run).
  expect(r.output).toContain('ns-isolated usage (0 sandboxed files, 1 not sandboxed)')
  expect(r.output).toContain('pool vmThreads: not sandboxed, see docs/vitest.md#limits\n    plain.spec.ts')
  expect(r.code).toBe(1)
})
