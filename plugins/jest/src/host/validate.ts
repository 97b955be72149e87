/**
 * Validation of the Jest integration's own options (runner and reporter
 * side, never inside a sandbox, so the core's helpers serve here), in the
 * core's style: precise `TypeError`s that name the option.
 */
import { describeValue, parseChoice, parseFlag } from 'ns-isolated'
import { DEFAULT_ISOLATION, type JestOptions, type ReportOptions } from '../options'

/** The default report options. */
export const DEFAULT_REPORT: ReportOptions = { json: undefined, table: true, heaviest: 5 }

/** Validates report options (from `testEnvironmentOptions.report` or the reporter's own options). */
export function resolveReportOptions(value: unknown, name = 'report'): ReportOptions {
  if (value === undefined) return { ...DEFAULT_REPORT }
  if (value === false) return { json: undefined, table: false, heaviest: 0 }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `ns-isolated: option \`${name}\` must be an object like { json: 'usage.json' } or false; got ${describeValue(value)}.`,
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
      throw new TypeError(`ns-isolated: option \`${name}.json\` must be a file path; got ${describeValue(o.json)}.`)
    }
    r.json = o.json
  }
  r.table = parseFlag(`${name}.table`, o.table, r.table)
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
        `ns-isolated: option \`${name}.heaviest\` must be a whole number of tests or 'all'; got ${describeValue(o.heaviest)}.`,
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
    leaks: parseChoice('leaks', input.leaks, ['report', 'fail', 'ignore'] as const, 'report'),
    isolation: parseChoice('isolation', input.isolation, ['fresh', 'reuse', 'test'] as const, DEFAULT_ISOLATION),
    fallback: parseChoice('fallback', input.fallback, ['error', 'subreaper'] as const, 'error'),
    report: resolveReportOptions(input.report),
    compileCache: parseFlag('compileCache', input.compileCache, true),
  }
}
