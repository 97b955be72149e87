/**
 * The Vitest plugin (`vitest-environment-ns-isolated/plugin`):
 *
 *   plugins: [nsIsolated({ memory: '512M', pids: 256 })],
 *   test: { environment: 'ns-isolated' },
 *
 * `configureVitest` runs once per resolved project (test.projects too) and
 * installs the ns-isolated pool there: files whose environment is
 * `ns-isolated` start their worker inside fresh namespaces, every other file
 * runs exactly as in Vitest's forks pool (the per-test tracker is preloaded
 * into sandboxed workers only, see worker/preload.ts). It also adds, once per
 * Vitest instance, the usage reporter.
 */
import { assertNodeSupported } from 'ns-isolated'
import type { Reporter, TestProject, Vitest } from 'vitest/node'
import { CreatedDirs } from './host/passthrough.ts'
import { createNsIsolatedPool } from './host/pool.ts'
import { junitWithUsage, UsageCollector, UsageReporter } from './host/reporter.ts'
import { RunState } from './host/run-state.ts'
import { POOL_NAME } from './names.ts'
import { type NsIsolatedPluginOptions, resolvePluginOptions } from './options.ts'

export type { FallbackPolicy, LeakPolicy, NsIsolatedFileOptions, NsIsolatedPluginOptions } from './options.ts'

const COLLECTOR = Symbol.for('vitest-environment-ns-isolated.collector')
/** Pools the ns-isolated pool may replace without changing how other files run. */
const REPLACEABLE = new Set(['forks', POOL_NAME])

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
  const pool = createNsIsolatedPool({ plugin, state, created: new CreatedDirs() })
  return {
    name: 'vitest-environment-ns-isolated',
    configureVitest({ project, vitest }) {
      const config = project.config as unknown as MutableConfig
      if (!REPLACEABLE.has(config.pool)) {
        vitest.logger.warn(
          `ns-isolated: project "${project.name || 'root'}" asked for pool '${config.pool}'; the ns-isolated plugin replaces it with its own (forks for files that are not isolated).`,
        )
      }
      config.pool = POOL_NAME
      config.poolRunner = pool

      const holder = vitest as unknown as Record<symbol, UsageCollector | undefined>
      let collector = holder[COLLECTOR]
      if (!collector) {
        collector = new UsageCollector(plugin, vitest)
        holder[COLLECTOR] = collector
        const reporters = vitest.config.reporters as unknown as ReporterEntry[]
        for (const [i, entry] of reporters.entries()) {
          if (Array.isArray(entry) && entry[0] === 'junit') reporters[i] = junitWithUsage(collector, entry[1])
        }
        reporters.push(new UsageReporter(collector))
      }
      if (!collector.states.has(state)) {
        collector.states.add(state)
        // A run cut short (Ctrl-C, --bail) ends without a report: its spares are stopped at close.
        vitest.onClose(() => state.spares.drain())
      }
    },
  }
}

export { nsIsolated }
