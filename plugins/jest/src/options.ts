/**
 * The options of the Jest integration, from `testEnvironmentOptions`. Shared
 * by both sides: the runner validates them (sandbox keys through the core's
 * `resolveOptions`, the keys below through `resolveJestOptions` in
 * host/validate.ts) before any sandbox starts; the environment only splits
 * them off, so that they do not become globals of the test
 * (jest-environment-node copies every `testEnvironmentOptions` key onto the
 * test's global object).
 *
 * No runtime import of the core here (types only): this file is loaded inside every sandbox.
 */

import type { LeakPolicy } from 'ns-isolated'

/** What to do about processes a file leaves running (the core's). */
export type { LeakPolicy }

/** New namespaces for every file, one sandbox per worker reset between files, or new namespaces for every test. */
export type Isolation = 'fresh' | 'reuse' | 'test'
/** The default mode (docs/jest.md, "Modes"); 'fresh' is one option away. */
export const DEFAULT_ISOLATION: Isolation = 'reuse'
/** What to do where the host refuses namespaces: fail (naming the fix), or run without them. */
export type Fallback = 'error' | 'subreaper'

/** Options of the usage report. */
export interface ReportOptions {
  /** Write the whole report (version 1 JSON) to this path, relative to the root dir. Default: none. */
  json: string | undefined
  /** Print the usage table at the end of the run. Default: true. */
  table: boolean
  /** How many of the heaviest tests (by CPU) to list; `Infinity` or 'all' for every test. Default: 5. */
  heaviest: number
}

export interface JestOptions {
  leaks: LeakPolicy
  isolation: Isolation
  fallback: Fallback
  report: ReportOptions
  /** Give sandboxed workers Node's compile cache (the core's `compileCacheFor`). Default true. */
  compileCache: boolean
}

/**
 * The sandbox keys (validated by the core's `resolveOptions`): a copy of the
 * core's SANDBOX_OPTION_KEYS, since this file may not import the core (a
 * test keeps the two equal).
 */
export const SANDBOX_KEYS = [
  'network',
  'hostname',
  'writable',
  'cwd',
  'mode',
  'memory',
  'pids',
  'cpu',
  'unenforceable',
  'timeout',
  'nodeModules',
  'tmpfsSize',
  'user',
  'capabilities',
  'privileged',
  'namespaces',
] as const
/** Our own keys. */
export const JEST_KEYS = ['leaks', 'isolation', 'fallback', 'report', 'compileCache'] as const
/** Keys jest-environment-node itself reads; passed through to it. */
export const NODE_ENV_KEYS = ['customExportConditions', 'globalsCleanup'] as const

const OURS = new Set<string>([...SANDBOX_KEYS, ...JEST_KEYS])

/** Splits `testEnvironmentOptions` into ours (sandbox and Jest keys) and the rest (for jest-environment-node). */
export function splitOptions(all: Record<string, unknown> | undefined): {
  sandbox: Record<string, unknown>
  jest: Record<string, unknown>
  rest: Record<string, unknown>
} {
  const sandbox: Record<string, unknown> = {}
  const jest: Record<string, unknown> = {}
  const rest: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(all ?? {})) {
    if ((SANDBOX_KEYS as readonly string[]).includes(k)) sandbox[k] = v
    else if (OURS.has(k)) jest[k] = v
    else rest[k] = v
  }
  return { sandbox, jest, rest }
}
