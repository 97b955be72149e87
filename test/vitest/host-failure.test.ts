/**
 * A host that cannot isolate: the file fails clearly by default;
 * `fallback: 'unisolated'` runs it as stock forks with a warning, listed as
 * not sandboxed. Two ways it cannot: no launcher (NS_ISOLATED_LAUNCHER names
 * a missing file, so the core throws ENS_LAUNCHER_MISSING before anything
 * starts; `fallback: 'subreaper'` does not apply, a piece is missing), and a
 * launcher that starts but is refused its namespaces (a stand-in that writes
 * the launcher's `error` line and exits 125, as the real one does under
 * Docker's seccomp profile): the failure is known only once it has run.
 */

import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const missing = '/nonexistent/ns-isolated-launcher'
const refusing = join(import.meta.dirname, '../fixtures/refusing-launcher.sh')

test('by default the run fails and says why', async () => {
  p = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
  const r = await p.run([], { NS_ISOLATED_LAUNCHER: missing })
  expect(r.code).toBe(1)
  expect(r.output).toContain(`NS_ISOLATED_LAUNCHER points to ${missing}, which is not an executable file`)
  expect(r.output).toContain('ENS_LAUNCHER_MISSING')
  expect(r.output).toMatch(/isolated\.spec\.ts/)
})

test("fallback: 'unisolated' runs the file like stock forks, with a warning", async () => {
  p = project('mixed', { 'vitest.config.ts': config("{ fallback: 'unisolated' }", "{ environment: 'node' }") })
  // the isolated file checks it is inside: here it is not, and that is the point
  // (the docblock is split so that Vitest does not read it as this file's own)
  p.write(
    'isolated.spec.ts',
    `// @vitest-${'environment'} ns-isolated\nimport { expect, test } from 'vitest'\ntest('runs', () => { expect(process.env.NS_ISOLATED_INSIDE).toBeUndefined() })\n`,
  )
  const r = await p.run([], { NS_ISOLATED_LAUNCHER: missing })
  expect(r.output).toContain('2 passed')
  expect(r.code).toBe(0)
  expect(r.output).toContain("run unisolated (fallback: 'unisolated')")
  expect(r.output).toContain('NS_ISOLATED_LAUNCHER points to')
  // Not silently: the report lists it, with the reason.
  expect(r.output).toContain('ns-isolated usage (0 sandboxed files, 2 not sandboxed)')
  expect(r.output).toContain(
    "host cannot isolate (ENS_LAUNCHER_MISSING): fallback 'unisolated', see docs/troubleshooting.md\n    isolated.spec.ts",
  )
})

test("fallback: 'subreaper' is for hosts that refuse namespaces: a missing launcher still fails the run", async () => {
  p = project('mixed', { 'vitest.config.ts': config("{ fallback: 'subreaper' }", "{ environment: 'node' }") })
  const r = await p.run([], { NS_ISOLATED_LAUNCHER: missing })
  expect(r.code).toBe(1)
  expect(r.output).toContain('ENS_LAUNCHER_MISSING')
  expect(r.output).not.toContain('without namespaces')
})

test('a launcher refused its namespaces at run time fails the run, saying why', async () => {
  p = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
  const r = await p.run([], { NS_ISOLATED_LAUNCHER: refusing })
  expect(r.code).toBe(1)
  expect(r.output).toContain('ENS_NAMESPACE_DENIED')
  expect(r.output).toContain('creating namespaces was refused (EPERM)')
  expect(r.output).toMatch(/isolated\.spec\.ts/)
})

test("a launcher refused its namespaces at run time: fallback: 'unisolated' runs the file like stock forks", async () => {
  p = project('mixed', { 'vitest.config.ts': config("{ fallback: 'unisolated' }", "{ environment: 'node' }") })
  p.write(
    'isolated.spec.ts',
    `// @vitest-${'environment'} ns-isolated\nimport { expect, test } from 'vitest'\ntest('runs', () => { expect(process.env.NS_ISOLATED_INSIDE).toBeUndefined() })\n`,
  )
  const r = await p.run([], { NS_ISOLATED_LAUNCHER: refusing })
  expect(r.output).toContain('2 passed')
  expect(r.code).toBe(0)
  expect(r.output).toContain("run unisolated (fallback: 'unisolated')")
  expect(r.output).toContain('creating namespaces was refused (EPERM)')
})
