/**
 * Which test files are isolated: those whose environment is ours, from the
 * project's `testEnvironment` or from the file's `@jest-environment`
 * docblock (which wins, both ways, as in Jest). Decided in the runner,
 * before any worker starts; reading the docblock costs one file read, which
 * stock Jest does in the worker anyway.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Test } from '@jest/test-result'
import { requireFromJestRunner } from '../jest-modules'

const docblock = requireFromJestRunner()('jest-docblock') as {
  extract(source: string): string
  parse(block: string): Record<string, string | string[]>
}

const OURS = realpath(join(__dirname, '..', 'environment.js'))
const NAMES = new Set([
  'ns-isolated',
  'jest-environment-ns-isolated',
  'jest-environment-ns-isolated/dist/environment.js',
])

function realpath(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return p
  }
}

function isOurs(environment: string, fromDir: string): boolean {
  if (NAMES.has(environment)) return true
  if (realpath(environment) === OURS) return true
  try {
    return realpath(createRequire(join(fromDir, 'x')).resolve(environment)) === OURS
  } catch {
    return false
  }
}

export interface Selection {
  isolated: boolean
  /** `@jest-environment-options` of the file (JSON), merged over the project's testEnvironmentOptions by Jest. */
  docOptions: Record<string, unknown> | undefined
}

/** Whether this file must run in a sandbox, and its own environment options. */
export function select(test: Test): Selection {
  const config = test.context.config
  let pragmas: Record<string, string | string[]> = {}
  try {
    pragmas = docblock.parse(docblock.extract(readFileSync(test.path, 'utf8')))
  } catch {
    // unreadable: let the worker report it, as stock Jest would
  }
  const env = pragmas['jest-environment']
  const isolated =
    typeof env === 'string' ? isOurs(env, dirname(test.path)) : isOurs(config.testEnvironment, config.rootDir)
  let docOptions: Record<string, unknown> | undefined
  const raw = pragmas['jest-environment-options']
  if (typeof raw === 'string') {
    try {
      docOptions = JSON.parse(raw) as Record<string, unknown>
    } catch {
      // Jest itself reports the bad JSON when it runs the file
    }
  }
  return { isolated, docOptions }
}
