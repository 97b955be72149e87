/**
 * vitest-environment-ns-isolated installed as a user installs it (the
 * release tarballs plus the registry, in a project outside the repository),
 * with the latest Vitest 4 and Vitest 5 (and 4.0): a small suite shows isolation (pid
 * 2, port 3000 in two files at once, a leaked daemon reported), the usage
 * report, and one failing assertion reported as a normal failure. On an old
 * Node, the plugin refuses when the config loads; nothing hangs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  expectOneDeliberateFailure,
  meetSource,
  run,
  tarball,
  type UserProject,
  uniqueSleep,
  userProject,
} from './helpers.ts'

const config = `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'

export default defineConfig({
  plugins: [nsIsolated({ writable: ['shared'] })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.js'], maxWorkers: 2 },
})
`
const port = (me: string, other: string) => `import { test } from 'vitest'
import { listenAndMeet } from './meet.js'

test('port 3000 in file ${me} while file ${other} holds it too', () => listenAndMeet('${me}', '${other}'))
`
const files = (sleep: number): Record<string, string> => ({
  'vitest.config.mjs': config,
  'test/meet.js': meetSource('esm'),
  'test/port-a.test.js': port('a', 'b'),
  'test/port-b.test.js': port('b', 'a'),
  'test/pid.test.js': `import { expect, test } from 'vitest'

test('own pid namespace: the test is pid 2', () => expect(process.pid).toBe(2))
`,
  'test/leak.test.js': `import { spawnSync } from 'node:child_process'
import { test } from 'vitest'

test('leaves a daemon behind', () => {
  spawnSync('sh', ['-c', 'setsid sleep ${sleep} </dev/null >/dev/null 2>&1 &'])
})
`,
  'test/fails.test.js': `import { expect, test } from 'vitest'

test('deliberately fails', () => expect(1 + 1).toBe(3))
`,
})

// The latest of each major, and the oldest minor the peer range admits (4.0: the runner class and the
// JUnit reporter are elsewhere there).
describe.each([
  ['4', '^4', 4],
  ['4.0', '~4.0.0', 4],
  ['5', '^5', 5],
] as const)('Vitest %s, installed from the tarballs', (name, range, major) => {
  let p: UserProject
  const sleep = uniqueSleep() + major * 10 + name.length
  beforeAll(async () => {
    p = userProject(`vitest${name}`, { type: 'module' })
    for (const [path, text] of Object.entries(files(sleep))) p.write(path, text)
    await p.install([`vitest@${range}`, tarball('core'), tarball('vitest')])
  })
  afterAll(() => p?.cleanup())

  it(`is the latest Vitest ${name}, with the plugin's dependency on the core met by the core tarball`, () => {
    expect(p.installed('vitest').startsWith(`${name}.`)).toBe(true)
    expect(p.installed('ns-isolated')).toBe(p.installed('vitest-environment-ns-isolated'))
  })

  it('runs the suite isolated: pid 2, port 3000 twice at once, the leaked daemon reported; one normal failure', async () => {
    const r = await run(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=out.json'],
      { cwd: p.dir },
    )
    expect(r.code, r.output).toBe(1)
    expectOneDeliberateFailure(p.read('out.json'), 'expected 2 to be 3')
    expect(r.output).toContain('ns-isolated usage (5 sandboxed files)')
    // (`setsid sleep N` when the report caught setsid before it became sleep)
    expect(r.output).toMatch(
      new RegExp(`test/leak\\.test\\.js > leaves a daemon behind: pid \\d+ \`(setsid )?sleep ${sleep}\``),
    )
  })

  it('on an old Node, the plugin refuses when the config loads, naming the version and the fix; nothing hangs', async () => {
    for (const old of inject('oldNodes')) {
      const r = await run(old.path, ['node_modules/vitest/vitest.mjs', 'run'], { cwd: p.dir, hangGuard: 120_000 })
      expect(r.signal, `${old.why}: hung\n${r.output}`).toBe(null)
      expect(r.code, r.output).not.toBe(0)
      // at config load: no run started
      expect(r.output).toContain('failed to load config')
      expect(r.output).not.toContain(' RUN ')
      expect(r.output).toContain(`ns-isolated needs Node >= 22.12.0, and this is Node ${old.version}`)
      expect(r.output).toContain('nvm install 22')
    }
  })
})
