/**
 * `withNsIsolated(config, options)` (jest-environment-ns-isolated/config):
 * what it adds to a config and what it keeps, and the configs it refuses.
 * A real Jest run with ts-jest's preset is in test/install/jest.test.ts.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { root } from '../helpers.ts'

const require = createRequire(import.meta.url)
const dist = join(root, 'plugins/jest/dist')
const { withNsIsolated } = require(join(dist, 'config.js')) as typeof import('../../plugins/jest/dist/config.js')
const RUNNER = join(dist, 'runner.js')
const ENVIRONMENT = join(dist, 'environment.js')
const REPORTER = join(dist, 'reporter.js')

describe('withNsIsolated', () => {
  it("adds the runner, the environment and the usage reporter after 'default', keeping the rest", () => {
    const config = { preset: 'ts-jest', testMatch: ['**/*.test.ts'], testEnvironmentOptions: { pids: 64 } }
    expect(withNsIsolated(config, { memory: '1G' })).toEqual({
      preset: 'ts-jest',
      testMatch: ['**/*.test.ts'],
      runner: RUNNER,
      testEnvironment: ENVIRONMENT,
      testEnvironmentOptions: { pids: 64, memory: '1G' },
      reporters: ['default', REPORTER],
    })
    expect(config).toEqual({ preset: 'ts-jest', testMatch: ['**/*.test.ts'], testEnvironmentOptions: { pids: 64 } })
  })

  it('appends the usage reporter to reporters already there, once', () => {
    const once = withNsIsolated({ reporters: ['summary', ['jest-junit', { outputDirectory: 'r' }]] })
    expect(once.reporters).toEqual(['summary', ['jest-junit', { outputDirectory: 'r' }], REPORTER])
    expect(withNsIsolated(once).reporters).toEqual(once.reporters)
  })

  it("replaces the stock runner and the 'node' environment (which would run the files unisolated)", () => {
    const c = withNsIsolated({ runner: 'jest-runner', testEnvironment: 'node' })
    expect([c.runner, c.testEnvironment]).toEqual([RUNNER, ENVIRONMENT])
  })

  it('isolates each inline project, and leaves projects given by path to their own config', () => {
    const c = withNsIsolated({ projects: [{ displayName: 'a' }, '<rootDir>/b'] })
    expect(c.projects).toEqual([
      { displayName: 'a', runner: RUNNER, testEnvironment: ENVIRONMENT, testEnvironmentOptions: {} },
      '<rootDir>/b',
    ])
  })

  it('refuses what it cannot combine with, and option mistakes, with a precise TypeError', () => {
    // (the docblock's name is not written out here: Vitest would read it as this file's own)
    expect(() => withNsIsolated({ testEnvironment: 'jsdom' })).toThrow(
      /testEnvironment is 'jsdom'; the ns-isolated environment is Node's.* docblock: they then run unisolated/,
    )
    expect(() => withNsIsolated({ runner: 'jest-runner-eslint' })).toThrow(/runner is 'jest-runner-eslint'/)
    expect(() => withNsIsolated({ projects: [{ testEnvironment: 'jsdom' }] })).toThrow(/projects\[0\]\.testEnvironment/)
    expect(() => withNsIsolated({}, { memory: 'lots' } as never)).toThrow(TypeError)
    expect(() => withNsIsolated({}, { leaks: 'maybe' } as never)).toThrow(/`leaks` must be one of/)
    expect(() => withNsIsolated([] as never)).toThrow(/takes a Jest config object/)
  })
})

describe('the old-Node gate of the Jest integration', () => {
  it('keeps the same minimum as the core', async () => {
    const { MIN_NODE_VERSION } = await import('../../src/host/node-version.ts')
    const gate = require(join(dist, 'node-gate.js')) as { MIN_NODE_VERSION: string }
    expect(gate.MIN_NODE_VERSION).toBe(MIN_NODE_VERSION)
  })
})
