/**
 * The plugin's options: the core's sandbox options (validated by the core's
 * `resolveOptions`, the one place sandbox options are checked) plus the
 * plugin's own keys, validated here in `resolvePluginOptions` with messages
 * in the same style.
 */
import {
  describeValue,
  type LeakPolicy,
  parseChoice,
  parseFlag,
  resolveOptions,
  type SandboxOptions,
} from 'ns-isolated'
import { ENVIRONMENT_NAME } from './names.ts'

/** What to do about processes a file leaves running (the core's). */
export type { LeakPolicy }

/** What to do when this host cannot isolate (not Linux, no launcher, namespaces refused). */
export type FallbackPolicy = 'error' | 'unisolated' | 'subreaper'

/** What one sandbox holds: a whole test file (default), or one test of it. */
export type IsolationUnit = 'file' | 'test'

/** Which files get a sandbox, by their environment: `'all'`, or these names (besides `ns-isolated`). */
export type EnvironmentSelector = 'all' | readonly string[]

/** Options of `nsIsolated()` (vitest.config.ts). */
export interface NsIsolatedPluginOptions extends SandboxOptions {
  /**
   * Processes left running when a test file ends are always killed with its
   * sandbox. `'report'` (default): list them in the usage report, against the
   * test that started them. `'fail'`: also fail that test (or the file, when
   * no test started them). `'ignore'`: say nothing.
   */
  leaks?: LeakPolicy
  /** The usage report printed after the run. */
  report?: {
    /** Also write every figure as JSON (the ns-isolated run report, `version: 1`) to this path (relative to the root). */
    json?: string
    /** How many of the heaviest tests (by CPU) to list. Default 5; 0 for none. */
    heaviest?: number
    /** Print the usage table after the run. Default true. */
    table?: boolean
  }
  /**
   * `'error'` (default): when this host cannot isolate, the file fails with a
   * message naming the fix. `'subreaper'`: where the host refuses namespaces
   * (seccomp, AppArmor, user namespaces off, a refused mount), run the file
   * without them (the core's `namespaces: false`): leaks are still reported,
   * against their test, and killed, figures and caps still measured, and the
   * report says on every such file what was missing and why; other failures
   * fail the file as with `'error'`. `'unisolated'`: run it like the stock
   * forks pool, listed in the report as not sandboxed.
   */
  fallback?: FallbackPolicy
  /**
   * The environment a file in the `ns-isolated` environment runs inside its
   * sandbox: `'node'` (default), `'jsdom'`, `'happy-dom'`, `'edge-runtime'`,
   * or a custom one (the package `vitest-environment-<name>`, or a path), as
   * Vitest resolves `environment`. Its options are the project's
   * `environmentOptions`. Per file too.
   */
  environment?: string
  /**
   * Which files get a sandbox, whatever asks for it: the files in the
   * `ns-isolated` environment always; `'all'`: every file, each running its
   * own environment (config or `@vitest-environment` docblock) inside; or a
   * list of environment names (`['jsdom', 'happy-dom']`). Files left out are
   * listed in the report as not sandboxed. Default: `[]`.
   */
  environments?: EnvironmentSelector
  /**
   * Boot the next file's sandboxed worker (its own fresh sandbox, Node and
   * Vitest's worker loaded) while the current file runs, so a file does not
   * wait for its worker to start. Default true; used when `maxWorkers`
   * leaves a core idle, and never with an inspector. A spare serves one file
   * only; what the run does not use is stopped when it ends.
   */
  prewarm?: boolean
  /**
   * Give sandboxed workers Node's module compile cache (`NODE_COMPILE_CACHE`,
   * a directory of this user's under the temp dir, writable inside), so each
   * new worker does not compile Vitest's own modules again. Default true;
   * a `NODE_COMPILE_CACHE` of your own is used instead, and
   * `NODE_DISABLE_COMPILE_CACHE` turns it off.
   */
  compileCache?: boolean
  /**
   * `'file'` (default): one sandbox per test file. `'test'`: one fresh
   * sandbox per test (its own namespaces, root and cgroup): the file's
   * module scope and the `beforeAll`/`afterAll` of the test's enclosing
   * describes run again in each test's sandbox, so a file's top-level code
   * runs once per test, and each test's CPU, peak memory, peak pids, OOM
   * kills and leaks are exact. Vitest's reporters see the file as a normal
   * run. Per file too (`@vitest-environment-options { "isolation": "test" }`).
   */
  isolation?: IsolationUnit
}

/** Per-file options (`environmentOptions: { 'ns-isolated': {...} }` or the `@vitest-environment-options` docblock). */
export type NsIsolatedFileOptions = SandboxOptions & {
  leaks?: LeakPolicy
  environment?: string
  isolation?: IsolationUnit
}

export interface ResolvedPluginOptions {
  /** The sandbox part, as given (resolved again per file: the hostname is new for every sandbox). */
  sandbox: SandboxOptions
  leaks: LeakPolicy
  report: { json: string | undefined; heaviest: number; table: boolean }
  fallback: FallbackPolicy
  prewarm: boolean
  compileCache: boolean
  environment: string
  environments: EnvironmentSelector
  isolation: IsolationUnit
}

const PLUGIN_KEYS = [
  'leaks',
  'report',
  'fallback',
  'prewarm',
  'compileCache',
  'environment',
  'environments',
  'isolation',
] as const
const FILE_KEYS = ['leaks', 'environment', 'isolation'] as const
const ISOLATION_UNITS = ['file', 'test'] as const
const REPORT_KEYS = ['json', 'heaviest', 'table']

function splitSandbox(o: Record<string, unknown>, own: readonly string[]): SandboxOptions {
  const sandbox: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (!own.includes(k)) sandbox[k] = v
  return sandbox as SandboxOptions
}

/** Validates the plugin's options. Throws a precise `TypeError` on the first mistake. */
export function resolvePluginOptions(input: unknown): ResolvedPluginOptions {
  const where = 'vitest plugin'
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new TypeError(`ns-isolated (${where}): options must be an object; got ${describeValue(input)}.`)
  }
  const o = (input ?? {}) as Record<string, unknown>
  // The sandbox part goes through the core: unknown keys, network, memory, ... are checked there.
  resolveOptions(o as SandboxOptions, PLUGIN_KEYS)
  const leaks = parseChoice('leaks', o.leaks, ['report', 'fail', 'ignore'] as const, 'report', where)
  const fallback = parseChoice('fallback', o.fallback, ['error', 'unisolated', 'subreaper'] as const, 'error', where)
  const environment = parseEnvironment(o.environment, 'node', where)
  const environments = parseEnvironments(o.environments, where)
  const prewarm = parseFlag('prewarm', o.prewarm, true, where)
  const compileCache = parseFlag('compileCache', o.compileCache, true, where)
  const isolation = parseChoice('isolation', o.isolation, ISOLATION_UNITS, 'file', where)
  const report = { json: undefined as string | undefined, heaviest: 5, table: true }
  if (o.report !== undefined) {
    const r = o.report as Record<string, unknown>
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new TypeError(
        `ns-isolated (${where}): option \`report\` must be an object like { json: 'ns-isolated-report.json', heaviest: 5 }; got ${describeValue(r)}.`,
      )
    }
    for (const k of Object.keys(r)) {
      if (!REPORT_KEYS.includes(k)) {
        throw new TypeError(
          `ns-isolated (${where}): unknown option \`report.${k}\`. Known: ${REPORT_KEYS.map((x) => `report.${x}`).join(', ')}.`,
        )
      }
    }
    if (r.json !== undefined) {
      if (typeof r.json !== 'string' || r.json === '') {
        throw new TypeError(
          `ns-isolated (${where}): option \`report.json\` must be a non-empty file path; got ${describeValue(r.json)}.`,
        )
      }
      report.json = r.json
    }
    if (r.heaviest !== undefined) {
      if (typeof r.heaviest !== 'number' || !Number.isInteger(r.heaviest) || r.heaviest < 0) {
        throw new TypeError(
          `ns-isolated (${where}): option \`report.heaviest\` must be a whole number ≥ 0; got ${describeValue(r.heaviest)}.`,
        )
      }
      report.heaviest = r.heaviest
    }
    report.table = parseFlag('report.table', r.table, report.table, where)
  }
  return {
    sandbox: splitSandbox(o, PLUGIN_KEYS),
    leaks,
    report,
    fallback,
    prewarm,
    compileCache,
    environment,
    environments,
    isolation,
  }
}

function parseEnvironment(value: unknown, fallback: string, where: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value === '' || value === ENVIRONMENT_NAME) {
    throw new TypeError(
      `ns-isolated (${where}): option \`environment\` must name the environment to run inside the sandbox ('node', 'jsdom', 'happy-dom', a custom one), not '${ENVIRONMENT_NAME}'; got ${describeValue(value)}.`,
    )
  }
  return value
}

function parseEnvironments(value: unknown, where: string): EnvironmentSelector {
  if (value === undefined) return []
  if (value === 'all') return 'all'
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new TypeError(
      `ns-isolated (${where}): option \`environments\` must be 'all' or a list of environment names like ['jsdom', 'happy-dom']; got ${describeValue(value)}.`,
    )
  }
  return [...value] as string[]
}

/** Whether a file in environment `name` gets a sandbox. */
export function isSandboxed(name: string, selector: EnvironmentSelector): boolean {
  return name === ENVIRONMENT_NAME || selector === 'all' || selector.includes(name)
}

/**
 * Merges per-file options over the plugin's: `environmentOptions['ns-isolated']`
 * of the project, then the file's `@vitest-environment-options` docblock.
 * Each layer is validated (a TypeError names where the mistake is).
 */
export function resolveFileOptions(
  base: ResolvedPluginOptions,
  layers: { where: string; value: unknown }[],
): { sandbox: SandboxOptions; leaks: LeakPolicy; environment: string; isolation: IsolationUnit } {
  let sandbox: SandboxOptions = { ...base.sandbox }
  let leaks = base.leaks
  let environment = base.environment
  let isolation = base.isolation
  for (const { where, value } of layers) {
    if (value === undefined || value === null) continue
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new TypeError(`ns-isolated (${where}): options must be an object; got ${describeValue(value)}.`)
    }
    const o = value as Record<string, unknown>
    try {
      resolveOptions(o as SandboxOptions, FILE_KEYS)
    } catch (e) {
      if (e instanceof TypeError) throw new TypeError(e.message.replace(/^ns-isolated:/, `ns-isolated (${where}):`))
      throw e
    }
    leaks = parseChoice('leaks', o.leaks, ['report', 'fail', 'ignore'] as const, leaks, where)
    environment = parseEnvironment(o.environment, environment, where)
    isolation = parseChoice('isolation', o.isolation, ISOLATION_UNITS, isolation, where)
    const own = splitSandbox(o, FILE_KEYS)
    // writable paths add up; everything else overrides.
    sandbox = { ...sandbox, ...own, writable: [...(sandbox.writable ?? []), ...(own.writable ?? [])] }
  }
  return { sandbox, leaks, environment, isolation }
}
