/**
 * `jest-environment-ns-isolated/config`: `withNsIsolated(config, options?)`
 * for configs that have a preset of their own (ts-jest, …), which Jest does
 * not let two presets share:
 *
 *   module.exports = withNsIsolated({ preset: 'ts-jest' }, { memory: '1G' })
 *
 * It returns the config with the ns-isolated runner (which isolates every
 * file, whatever its test environment), the ns-isolated environment where
 * none other is set, and the usage reporter (after the reporters already
 * there, or after 'default'), and `options` merged over its
 * `testEnvironmentOptions`; everything else is kept. Options are validated
 * here, so a mistake stops Jest at config load.
 */
// First: an old Node is refused before the core loads.
import './node-gate'
import { join } from 'node:path'
import { resolveOptions, type SandboxOptions } from 'ns-isolated'
import { resolveJestOptions } from './host/validate'
import { type Fallback, type Isolation, JEST_KEYS, type LeakPolicy, NODE_ENV_KEYS, splitOptions } from './options'

/** `testEnvironmentOptions` of ns-isolated: the sandbox's options plus the Jest integration's own. */
export interface NsIsolatedJestOptions extends SandboxOptions {
  /** Processes a file leaves running: 'report' (default) in the usage report, 'fail' the test too, 'ignore'. */
  leaks?: LeakPolicy
  /**
   * 'reuse' (default): one sandbox per worker, reset between files; 'fresh': new namespaces for every file;
   * 'test': for every test (the file's module scope and hooks run again in each test's sandbox).
   */
  isolation?: Isolation
  /** Where the host refuses namespaces: 'error' (default) fails naming the fix; 'subreaper' runs files without them, reported. */
  fallback?: Fallback
  /** The usage report: `{ json?: path, table?: boolean, heaviest?: number | 'all' }`, or false for none. */
  report?: { json?: string; table?: boolean; heaviest?: number | 'all' } | false
  /** Node's compile cache for sandboxed workers. Default true. */
  compileCache?: boolean
}

/** A reporter entry of a Jest config: a name or path, or `[name, options]`. */
export type JestReporterEntry = string | [string, Record<string, unknown>]

/** The part of a Jest config this helper reads and writes (Jest's `Config.InitialOptions`, structurally). */
export interface JestConfigLike {
  runner?: string
  testEnvironment?: string
  testEnvironmentOptions?: Record<string, unknown>
  reporters?: JestReporterEntry[]
  projects?: unknown[]
  [key: string]: unknown
}

/** What `withNsIsolated` adds. A type, not an interface: its result must pass as a `JestConfigLike` again. */
export type WithNsIsolated = {
  runner: string
  testEnvironment: string
  testEnvironmentOptions: Record<string, unknown>
  reporters: JestReporterEntry[]
}

const RUNNER = join(__dirname, 'runner.js')
const ENVIRONMENT = join(__dirname, 'environment.js')
const REPORTER = join(__dirname, 'reporter.js')
/** Values a config may already have that ns-isolated replaces without changing what the user asked for. */
const STOCK_RUNNERS = new Set([undefined, 'jest-runner', RUNNER, 'jest-environment-ns-isolated/runner'])
/** Node's environment, or ours (Node's plus the tracker): options that neither reads are a mistake. */
const NODE_ENVIRONMENTS = new Set([
  undefined,
  'node',
  'jest-environment-node',
  ENVIRONMENT,
  'ns-isolated',
  'jest-environment-ns-isolated',
])

function isOurReporter(entry: unknown): boolean {
  const name = Array.isArray(entry) ? entry[0] : entry
  return name === REPORTER || name === 'jest-environment-ns-isolated/reporter'
}

/** runner, testEnvironment and options of one project config. */
function isolateProject<C extends JestConfigLike>(config: C, options: NsIsolatedJestOptions, where: string): C {
  if (!STOCK_RUNNERS.has(config.runner)) {
    throw new TypeError(
      `ns-isolated: ${where}runner is '${config.runner}'; ns-isolated runs test files with its own runner, and Jest takes one runner per project. Keep that project without withNsIsolated().`,
    )
  }
  const testEnvironmentOptions = { ...config.testEnvironmentOptions, ...options }
  const { sandbox, jest } = splitOptions(testEnvironmentOptions)
  // jsdom or a custom environment may read any other key; Node's reads two.
  if (NODE_ENVIRONMENTS.has(config.testEnvironment))
    resolveOptions(testEnvironmentOptions as SandboxOptions, [...JEST_KEYS, ...NODE_ENV_KEYS])
  else resolveOptions(sandbox as SandboxOptions)
  resolveJestOptions(jest)
  // Another environment (jsdom, a custom one) stays: the runner isolates its files and wraps it.
  const testEnvironment = NODE_ENVIRONMENTS.has(config.testEnvironment)
    ? ENVIRONMENT
    : (config.testEnvironment as string)
  return { ...config, runner: RUNNER, testEnvironment, testEnvironmentOptions }
}

/**
 * Returns `config` with every test file isolated and the usage report added
 * (see the module's comment). With `projects`, each inline project config is
 * isolated too (a project given as a path keeps its own config file: wrap
 * that one). Throws a `TypeError` for a runner it cannot combine with, and
 * for a mistake in `options`.
 */
export function withNsIsolated<C extends JestConfigLike>(
  config: C = {} as C,
  options: NsIsolatedJestOptions = {},
): C & WithNsIsolated {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError('ns-isolated: withNsIsolated(config) takes a Jest config object.')
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('ns-isolated: withNsIsolated(config, options) takes an options object as its second argument.')
  }
  const out = isolateProject(config, options, '') as C & WithNsIsolated
  if (Array.isArray(config.projects)) {
    out.projects = config.projects.map((p, i) =>
      typeof p === 'object' && p !== null ? isolateProject(p as JestConfigLike, options, `projects[${i}].`) : p,
    )
  }
  const reporters = config.reporters ?? ['default']
  out.reporters = reporters.some(isOurReporter) ? [...reporters] : [...reporters, REPORTER]
  return out
}
