import type { ResolvedPluginOptions } from '../options.ts'
import type { CreatedDirs } from './passthrough.ts'
import type { RunState } from './run-state.ts'

/** What every worker of one plugin instance shares. */
export interface PoolContext {
  plugin: ResolvedPluginOptions
  state: RunState
  created: CreatedDirs
}
