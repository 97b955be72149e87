/**
 * What the runner needs from a file before any worker starts: its own
 * `@jest-environment-options` (JSON, merged over the project's
 * testEnvironmentOptions by Jest), and whether its environment is Node's
 * (the project's `testEnvironment`, or the file's `@jest-environment`
 * docblock, which wins as in Jest). Every file the runner gets runs in a
 * sandbox whatever its environment (sandbox/preload.ts wraps it); Node's
 * takes no options of its own beyond two, so there an unknown key is a
 * mistake worth failing on, while jsdom or a custom environment may read
 * any key. Reading the docblock costs one file read, which stock Jest does
 * in the worker anyway.
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
const NODE_NAMES = new Set([
  'node',
  'jest-environment-node',
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

function isNodes(environment: string, fromDir: string): boolean {
  if (NODE_NAMES.has(environment)) return true
  const resolved = (() => {
    try {
      return realpath(createRequire(join(fromDir, 'x')).resolve(environment))
    } catch {
      return realpath(environment)
    }
  })()
  return resolved === OURS || /[\\/]jest-environment-node[\\/]build[\\/]index\.js$/.test(resolved)
}

export interface Selection {
  /** `@jest-environment-options` of the file (JSON), merged over the project's testEnvironmentOptions by Jest. */
  docOptions: Record<string, unknown> | undefined
  /** The file's environment is Node's (or ours, which is Node's plus the tracker). */
  nodeEnvironment: boolean
}

/** A file's own environment options, and whether its environment is Node's. */
export function select(test: Test): Selection {
  const config = test.context.config
  let pragmas: Record<string, string | string[]> = {}
  try {
    pragmas = docblock.parse(docblock.extract(readFileSync(test.path, 'utf8')))
  } catch {
    // unreadable: let the worker report it, as stock Jest would
  }
  const env = pragmas['jest-environment']
  const nodeEnvironment =
    typeof env === 'string' ? isNodes(env, dirname(test.path)) : isNodes(config.testEnvironment, config.rootDir)
  let docOptions: Record<string, unknown> | undefined
  const raw = pragmas['jest-environment-options']
  if (typeof raw === 'string') {
    try {
      docOptions = JSON.parse(raw) as Record<string, unknown>
    } catch {
      // Jest itself reports the bad JSON when it runs the file
    }
  }
  return { docOptions, nodeEnvironment }
}
