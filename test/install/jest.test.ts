/**
 * jest-environment-ns-isolated installed as a user installs it (the release
 * tarballs plus the registry, in a project outside the repository), with the
 * latest Jest 29 and Jest 30: a small suite shows isolation (pid 2, port 3000
 * in two files at once, a leaked daemon reported), the usage report, and one
 * failing assertion reported as a normal failure; ts-jest's preset combined
 * through `withNsIsolated` (CommonJS config with Jest 29, ES module config
 * with Jest 30) runs isolated with the usage report. On an old Node, every
 * way in refuses at config load; nothing hangs.
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

const port = (me: string, other: string) => `const { listenAndMeet } = require('./meet')

test('port 3000 in file ${me} while file ${other} holds it too', () => listenAndMeet('${me}', '${other}'), 600000)
`
const files = (sleep: number): Record<string, string> => ({
  'jest.config.js': `module.exports = {
  preset: 'jest-environment-ns-isolated',
  testEnvironmentOptions: { writable: ['shared'] },
  testMatch: ['**/test/**/*.test.js'],
  maxWorkers: 2,
}
`,
  'test/meet.js': meetSource('cjs'),
  'test/port-a.test.js': port('a', 'b'),
  'test/port-b.test.js': port('b', 'a'),
  'test/pid.test.js': "test('own pid namespace: the test is pid 2', () => expect(process.pid).toBe(2))\n",
  'test/leak.test.js': `const { spawnSync } = require('node:child_process')

test('leaves a daemon behind', () => {
  spawnSync('sh', ['-c', 'setsid sleep ${sleep} </dev/null >/dev/null 2>&1 &'])
})
`,
  'test/fails.test.js': "test('deliberately fails', () => expect(1 + 1).toBe(3))\n",
  // ts-jest's preset, combined through withNsIsolated (a CommonJS config, and an ES module one)
  'ts/pid.test.ts': `import { expect, test } from '@jest/globals'

const pidOf = (p: NodeJS.Process): number => p.pid
test('a TypeScript test, compiled by ts-jest, runs as pid 2', () => expect(pidOf(process)).toBe(2))
`,
  'tsconfig.json':
    '{ "compilerOptions": { "strict": true, "types": ["node"], "module": "commonjs", "esModuleInterop": true } }\n',
  'jest.ts.config.cjs': `const { withNsIsolated } = require('jest-environment-ns-isolated/config')

module.exports = withNsIsolated({ preset: 'ts-jest', testMatch: ['**/ts/*.test.ts'] }, { leaks: 'report' })
`,
  'jest.ts.config.mjs': `import { withNsIsolated } from 'jest-environment-ns-isolated/config'

export default withNsIsolated({ preset: 'ts-jest', testMatch: ['**/ts/*.test.ts'] }, { leaks: 'report' })
`,
})

const jest = (p: UserProject, args: string[], node = process.execPath) =>
  run(node, ['node_modules/jest/bin/jest.js', ...args], { cwd: p.dir, hangGuard: 300_000 })

describe.each([29, 30])('Jest %i, installed from the tarballs', (major) => {
  let p: UserProject
  const sleep = uniqueSleep() + major
  beforeAll(async () => {
    p = userProject(`jest${major}`)
    for (const [path, text] of Object.entries(files(sleep))) p.write(path, text)
    await p.install([`jest@^${major}`, 'ts-jest', 'typescript', '@types/node', tarball('core'), tarball('jest')])
  })
  afterAll(() => p?.cleanup())

  it(`is the latest Jest ${major}, whose jest-runner, jest-worker and jest-environment-node the plugin uses`, () => {
    for (const pkg of ['jest', 'jest-runner', 'jest-worker', 'jest-environment-node']) {
      expect(Number.parseInt(p.installed(pkg), 10), pkg).toBe(major)
    }
    expect(p.installed('ns-isolated')).toBe(p.installed('jest-environment-ns-isolated'))
  })

  it('runs the suite isolated: pid 2, port 3000 twice at once, the leaked daemon reported; one normal failure', async () => {
    const r = await jest(p, ['--json', '--outputFile=out.json'])
    expect(r.code, r.output).toBe(1)
    expectOneDeliberateFailure(p.read('out.json'), 'Expected: 3')
    expect(r.output).toContain('ns-isolated usage')
    expect(r.output).toMatch(/test\/fails\.test\.js +│/)
    expect(r.output).toContain(`ns-isolated: 1 leaked process (killed):`)
    // (`setsid sleep N` when the report caught setsid before it became sleep)
    expect(r.output).toMatch(
      new RegExp(`test/leak\\.test\\.js > leaves a daemon behind: (setsid )?sleep ${sleep} — pid \\d+`),
    )
  })

  const tsConfig = major === 29 ? 'jest.ts.config.cjs' : 'jest.ts.config.mjs'
  it(`ts-jest's preset through withNsIsolated (${tsConfig}): isolated, with the usage report`, async () => {
    const r = await jest(p, ['--config', tsConfig])
    expect(r.output).toMatch(/PASS ts\/pid\.test\.ts/)
    expect(r.output).toContain('ns-isolated usage')
    expect(r.output).toMatch(/ts\/pid\.test\.ts +│/)
    expect(r.code, r.output).toBe(0)
  })

  it('on an old Node, the preset and withNsIsolated refuse at config load, naming the version and the fix', async () => {
    for (const old of inject('oldNodes')) {
      for (const args of [[], ['--config', tsConfig]]) {
        const r = await jest(p, args, old.path)
        expect(r.signal, `${old.why}: hung\n${r.output}`).toBe(null)
        expect(r.code).not.toBe(0)
        expect(r.output, old.why).toContain(`ns-isolated needs Node >= 22.12.0, and this is Node ${old.version}`)
        expect(r.output).toContain('nvm install 22')
        expect(r.output).not.toMatch(/PASS|FAIL/)
      }
    }
  })
})
