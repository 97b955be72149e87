/**
 * The Vitest plugin (`vitest-environment-ns-isolated/plugin`):
 *
 *   plugins: [nsIsolated({ memory: '512M', pids: 256 })],
 *   test: { environment: 'ns-isolated' },
 *
 * `configureVitest` runs once per resolved project (test.projects too) and
 * installs the ns-isolated pool there: files whose environment is
 * `ns-isolated` (or one the `environments` option selects) start their
 * worker inside fresh namespaces, every other file runs exactly as in
 * Vitest's forks pool and is listed in the report as not sandboxed (the
 * per-test tracker is preloaded into sandboxed workers only, see
 * worker/preload.ts). It also adds, once per Vitest instance, the usage
 * reporter.
 */
import { assertNodeSupported } from 'ns-isolated'
import type { Reporter, TestProject, Vitest } from 'vitest/node'
import { CreatedDirs } from './host/passthrough.ts'
import { createNsIsolatedPool, KEPT_POOLS, type KeptPool } from './host/pool.ts'
import { blobWithUsage, junitWithUsage, UsageCollector, UsageReporter } from './host/reporter.ts'
import { RunState } from './host/run-state.ts'
import { POOL_NAME } from './names.ts'
import { type NsIsolatedPluginOptions, type ResolvedPluginOptions, resolvePluginOptions } from './options.ts'

export type {
  EnvironmentSelector,
  FallbackPolicy,
  LeakPolicy,
  NsIsolatedFileOptions,
  NsIsolatedPluginOptions,
} from './options.ts'

const COLLECTOR = Symbol.for('vitest-environment-ns-isolated.collector')

/** The subset of a Vite plugin this needs (no dependency on Vite's types). */
export interface NsIsolatedVitePlugin {
  name: string
  configureVitest(context: { project: TestProject; vitest: Vitest }): void
}

type MutableConfig = { pool: string; poolRunner?: unknown }
type ReporterEntry = Reporter | [string, unknown]

/**
 * Installs the ns-isolated pool. Options are validated here (a TypeError names the mistake); a Node
 * older than ns-isolated's minimum is refused here too (ENS_NODE_UNSUPPORTED), when the config loads.
 */
export default function nsIsolated(options?: NsIsolatedPluginOptions): NsIsolatedVitePlugin {
  assertNodeSupported()
  const plugin = resolvePluginOptions(options)
  const state = new RunState()
  /** The pool each project asked for, kept for its files that are not isolated. */
  const kept = new WeakMap<TestProject, KeptPool>()
  const pool = createNsIsolatedPool({ plugin, state, created: new CreatedDirs() }, (p) => kept.get(p) ?? 'forks')
  return {
    name: 'vitest-environment-ns-isolated',
    configureVitest({ project, vitest }) {
      const config = project.config as unknown as MutableConfig
      const collector = installReporter(vitest, plugin)
      if (Object.hasOwn(KEPT_POOLS, config.pool)) kept.set(project, config.pool as KeptPool)
      else if (config.pool !== POOL_NAME) {
        // vmThreads, vmForks, a custom pool: left as they are, so the project's own files run as asked
        // (the report lists them as not sandboxed).
        vitest.logger.warn(
          `ns-isolated: project "${project.name || 'root'}" runs in pool '${config.pool}', which the ns-isolated pool cannot stand in for: its files run as configured, and files in the 'ns-isolated' environment fail there. Give that project pool 'forks' (the default) or 'threads', or move the files that need '${config.pool}' into a project of their own (test.projects) and the isolated files into another.`,
        )
        collector.ownPool.set(project, config.pool)
        return
      }
      config.pool = POOL_NAME
      config.poolRunner = pool

      if (!collector.states.has(state)) {
        collector.states.add(state)
        // A run cut short (Ctrl-C, --bail) ends without a report: its spares are stopped at close.
        vitest.onClose(() => state.spares.drain())
      }
    },
  }
}

/** Adds, once per Vitest instance, the usage reporter (and the usage to a junit or blob reporter). */
function installReporter(vitest: Vitest, plugin: ResolvedPluginOptions): UsageCollector {
  const holder = vitest as unknown as Record<symbol, UsageCollector | undefined>
  let collector = holder[COLLECTOR]
  if (!collector) {
    collector = new UsageCollector(plugin, vitest)
    holder[COLLECTOR] = collector
    const reporters = vitest.config.reporters as unknown as ReporterEntry[]
    for (const [i, entry] of reporters.entries()) {
      if (Array.isArray(entry) && entry[0] === 'junit') reporters[i] = junitWithUsage(collector, entry[1])
      if (Array.isArray(entry) && entry[0] === 'blob') reporters[i] = blobWithUsage(collector, entry[1])
    }
    reporters.push(new UsageReporter(collector))
  }
  return collector
}

export { nsIsolated }
