/**
 * Sharded runs (`vitest --shard=i/n --reporter=blob`, then
 * `vitest --merge-reports`): each shard is isolated as usual, the blob keeps
 * each file's figures (in its task meta), and the merge prints one usage
 * report for the whole run: every shard's files, the heaviest tests, the
 * leaks under their tests, the files not sandboxed, and the JSON.
 */
import { afterEach, expect, test } from 'vitest'
import { config, hostPidsWith, type Project, project, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('two shards, merged: one report for the whole run', async () => {
  const sleep = uniqueSleep()
  const files: Record<string, string> = {
    'vitest.config.ts': config("{ report: { json: 'usage.json' } }"),
    // (the docblock's name split, or Vitest would read it as this file's own)
    'node.spec.ts': `// @vitest-${'environment'} node\nimport { test } from 'vitest'\ntest('on the host', () => {})\n`,
    'leaks.spec.ts': `import { spawn } from 'node:child_process'
import { test } from 'vitest'
test('leaks a daemon', () => {
  spawn('sleep', ['${sleep}'], { detached: true, stdio: 'ignore' }).unref()
})
`,
  }
  for (const n of [1, 2, 3])
    files[`f${n}.spec.ts`] =
      `import { expect, test } from 'vitest'\ntest('works ${n}', () => { expect(process.pid).toBe(2) })\n`
  p = project(undefined, files)

  const shards = []
  for (const shard of ['1/2', '2/2']) shards.push(await p.run([`--shard=${shard}`, '--reporter=blob']))
  for (const s of shards) expect(s.code, s.output).toBe(0)
  // Each shard ran its part of the files, sandboxed.
  const sandboxed = shards.map((s) => Number(/ns-isolated usage \((\d+) sandboxed/.exec(s.output)?.[1]))
  expect(sandboxed[0]).toBeGreaterThan(0)
  expect(sandboxed[1]).toBeGreaterThan(0)
  expect((sandboxed[0] ?? 0) + (sandboxed[1] ?? 0)).toBe(4)

  const merged = await p.run(['--merge-reports'])
  expect(merged.code, merged.output).toBe(0)
  expect(merged.output).toContain('ns-isolated usage (4 sandboxed files, 1 not sandboxed)')
  for (const f of ['f1.spec.ts', 'f2.spec.ts', 'f3.spec.ts', 'leaks.spec.ts'])
    expect(merged.output).toMatch(new RegExp(`│ ${f.replace('.', '\\.')} +│`))
  expect(merged.output).toContain('total (4 files)')
  expect(merged.output).toContain('heaviest tests')
  expect(merged.output).toMatch(new RegExp(`leaks\\.spec\\.ts > leaks a daemon: pid \\d+ \`sleep ${sleep}\``))
  expect(merged.output).toContain(
    'environment node: not sandboxed, see docs/vitest.md#any-environment\n    node.spec.ts',
  )
  const report = JSON.parse(p.read('usage.json'))
  expect(report.totals).toMatchObject({ files: 4, leaked: 1, unsandboxed: 1 })
  expect(report.files.every((f: { tests: { cpuMs: number | null }[] }) => f.tests.every((t) => t.cpuMs !== null))).toBe(
    true,
  )
  expect(hostPidsWith(sleep)).toEqual([])
})
