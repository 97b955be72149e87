/**
 * Which files are isolated: per file by docblock next to stock files, and per
 * project with test.projects (the plugin's configureVitest runs per project);
 * no file runs unsandboxed silently: the report lists each, with the reason,
 * and counts them in its headline.
 */
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('a docblock isolates one file; the others run as stock forks', async () => {
  p = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
  const r = await p.run([], { NS_ISOLATED_VITEST_DEBUG: '1' })
  expect(r.output).toContain('2 passed')
  expect(r.code).toBe(0)
  // only the isolated file had a sandbox
  expect(r.stderr.split('\n').filter((l) => l.includes('stopped (worker'))).toEqual([
    expect.stringContaining('isolated.spec.ts'),
  ])
  expect(r.output).toContain('ns-isolated usage (1 sandboxed file, 1 not sandboxed)')
})

/** A test file in `environment` (by docblock, or the config's when undefined) that says whether it ran sandboxed. */
function inEnvironment(environment: string | undefined): string {
  // (the docblock's name split, or Vitest would read it as this file's own)
  const docblock = environment ? `// @vitest-${'environment'} ${environment}\n` : ''
  return `${docblock}import { test } from 'vitest'
test('runs', () => { console.log(\`\${process.env.NS_ISOLATED_INSIDE ? 'sandboxed' : 'unsandboxed'}: \${typeof document}\`) })
`
}

test('a mixed project: every file runs sandboxed or is listed with its environment, and counted', async () => {
  // As in a real suite: the config's environment, and files whose docblock names another one.
  const files: Record<string, string> = {
    'vitest.config.ts': config("{ report: { json: 'r.json' } }", "{ environment: 'ns-isolated' }"),
  }
  for (let i = 0; i < 4; i++) files[`src/iso${i}.spec.ts`] = inEnvironment(undefined)
  for (let i = 0; i < 3; i++) files[`src/dom${i}.spec.ts`] = inEnvironment('jsdom')
  files['src/happy.spec.ts'] = inEnvironment('happy-dom')
  files['src/node.spec.ts'] = inEnvironment('node')
  p = project(undefined, files)
  const r = await p.run()
  expect(r.code, r.output).toBe(0)
  expect(r.output).toContain('9 passed')
  expect(r.output.match(/^unsandboxed: /gm)).toHaveLength(5)
  expect(r.output).toContain('ns-isolated usage (4 sandboxed files, 5 not sandboxed)')
  expect(r.output).toContain(
    [
      'not sandboxed: 5 files',
      '  environment jsdom: not sandboxed, see docs/vitest.md#any-environment',
      '    src/dom0.spec.ts',
      '    src/dom1.spec.ts',
      '    src/dom2.spec.ts',
    ].join('\n'),
  )
  expect(r.output).toContain(
    '  environment happy-dom: not sandboxed, see docs/vitest.md#any-environment\n    src/happy.spec.ts',
  )
  expect(r.output).toContain(
    '  environment node: not sandboxed, see docs/vitest.md#any-environment\n    src/node.spec.ts',
  )
  const report = JSON.parse(p.read('r.json'))
  expect(report.totals).toMatchObject({ files: 4, unsandboxed: 5 })
  expect(report.unsandboxed).toContainEqual({
    file: 'src/happy.spec.ts',
    reason: 'environment happy-dom: not sandboxed, see docs/vitest.md#any-environment',
  })
})

test('test.projects: the project asking for ns-isolated is isolated, the other is not', async () => {
  p = project('projects')
  const r = await p.run()
  expect(r.output).toContain('2 passed')
  expect(r.output).toMatch(/iso.*inside\.spec\.ts/)
  expect(r.output).toMatch(/plain.*outside\.spec\.ts/)
  expect(r.code).toBe(0)
})

test('without the plugin, the environment refuses clearly and names the fix', async () => {
  p = project('mixed', { 'vitest.config.ts': "export default { test: { environment: 'node' } }\n" })
  const r = await p.run()
  expect(r.code).toBe(1)
  expect(r.output).toContain('the plugin that installs the ns-isolated pool is missing')
  expect(r.output).toContain('plugins: [nsIsolated()]')
})
