/**
 * The options of the Jest integration, from `testEnvironmentOptions`. Shared
 * by both sides: the runner validates them (sandbox keys through the core's
 * `resolveOptions`, the keys below through `resolveJestOptions`) before any
 * sandbox starts; the environment only splits them off, so that they do not
 * become globals of the test (jest-environment-node copies every
 * `testEnvironmentOptions` key onto the test's global object).
 *
 * No import of the core here: this file is loaded inside every sandbox.
 */

/** What to do about processes a file leaves running. */
export type LeakPolicy = 'report' | 'fail' | 'ignore'
/** New namespaces for every file, or one sandbox per worker reset between files. */
export type Isolation = 'fresh' | 'reuse'

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
  report: ReportOptions
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
] as const
/** Our own keys. */
export const JEST_KEYS = ['leaks', 'isolation', 'report'] as const
/** Keys jest-environment-node itself reads; passed through to it. */
export const NODE_ENV_KEYS = ['customExportConditions', 'globalsCleanup'] as const

const OURS = new Set<string>([...SANDBOX_KEYS, ...JEST_KEYS])

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : String(value)
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new TypeError(
      `ns-isolated: option \`${name}\` must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${describe(value)}.`,
    )
  }
  return value as T
}

/** The default report options. */
export const DEFAULT_REPORT: ReportOptions = { json: undefined, table: true, heaviest: 5 }

/** Validates report options (from `testEnvironmentOptions.report` or the reporter's own options). */
export function resolveReportOptions(value: unknown, name = 'report'): ReportOptions {
  if (value === undefined) return { ...DEFAULT_REPORT }
  if (value === false) return { json: undefined, table: false, heaviest: 0 }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `ns-isolated: option \`${name}\` must be an object like { json: 'usage.json' } or false; got ${describe(value)}.`,
    )
  }
  const o = value as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!['json', 'table', 'heaviest'].includes(key)) {
      throw new TypeError(`ns-isolated: unknown option \`${name}.${key}\`. Known options: heaviest, json, table.`)
    }
  }
  const r = { ...DEFAULT_REPORT }
  if (o.json !== undefined) {
    if (typeof o.json !== 'string' || o.json === '') {
      throw new TypeError(`ns-isolated: option \`${name}.json\` must be a file path; got ${describe(o.json)}.`)
    }
    r.json = o.json
  }
  if (o.table !== undefined) {
    if (typeof o.table !== 'boolean') {
      throw new TypeError(`ns-isolated: option \`${name}.table\` must be true or false; got ${describe(o.table)}.`)
    }
    r.table = o.table
  }
  if (o.heaviest !== undefined) {
    if (o.heaviest === 'all') r.heaviest = Number.POSITIVE_INFINITY
    else if (
      typeof o.heaviest === 'number' &&
      (Number.isInteger(o.heaviest) || o.heaviest === Number.POSITIVE_INFINITY) &&
      o.heaviest >= 0
    ) {
      r.heaviest = o.heaviest
    } else {
      throw new TypeError(
        `ns-isolated: option \`${name}.heaviest\` must be a whole number of tests or 'all'; got ${describe(o.heaviest)}.`,
      )
    }
  }
  return r
}

/**
 * Validates our own keys of `testEnvironmentOptions` (precise `TypeError`s,
 * the core's style). Unknown keys are the core's to reject: call
 * `resolveOptions(sandboxPart, [...JEST_KEYS, ...NODE_ENV_KEYS])` too.
 */
export function resolveJestOptions(input: Record<string, unknown>): JestOptions {
  return {
    leaks: oneOf('leaks', input.leaks, ['report', 'fail', 'ignore'] as const, 'report'),
    isolation: oneOf('isolation', input.isolation, ['fresh', 'reuse'] as const, 'fresh'),
    report: resolveReportOptions(input.report),
  }
}

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
