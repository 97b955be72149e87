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

  it('keeps another environment (the runner isolates its files and wraps it), which may read keys of its own', () => {
    const c = withNsIsolated(
      { testEnvironment: 'jsdom', testEnvironmentOptions: { url: 'https://x.test/' } },
      { pids: 64 },
    )
    expect([c.runner, c.testEnvironment, c.testEnvironmentOptions]).toEqual([
      RUNNER,
      'jsdom',
      { url: 'https://x.test/', pids: 64 },
    ])
    // Under Node's environment an unknown key is a typo that would become a global.
    expect(() => withNsIsolated({ testEnvironmentOptions: { url: 'https://x.test/' } })).toThrow(/unknown option `url`/)
    expect(() => withNsIsolated({ testEnvironment: 'jsdom' }, { memory: 'lots' } as never)).toThrow(TypeError)
  })

  it('refuses what it cannot combine with, and option mistakes, with a precise TypeError', () => {
    expect(() => withNsIsolated({ runner: 'jest-runner-eslint' })).toThrow(/runner is 'jest-runner-eslint'/)
    expect(() => withNsIsolated({ projects: [{ runner: 'x' }] })).toThrow(/projects\[0\]\.runner/)
    expect(() => withNsIsolated({}, { memory: 'lots' } as never)).toThrow(TypeError)
    expect(() => withNsIsolated({}, { fallback: 'unisolated' } as never)).toThrow(/`fallback` must be one of/)
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
