/**
 * The pool the plugin installs in every project: files whose environment is
 * `ns-isolated`, or one the plugin's `environments` selects, get a sandboxed
 * worker; every other file gets the worker of the pool the project asked for
 * (`forks`, the default, or `threads`), unchanged (it only carries this
 * pool's name, so Vitest can still reuse it across files when
 * `isolate: false`), and is recorded as not sandboxed, with the reason, for
 * the report.
 */
import type { TestProject } from 'vitest/node'
import { ForksPoolWorker, type PoolOptions, type PoolWorker, ThreadsPoolWorker } from 'vitest/node'
import { POOL_NAME } from '../names.ts'
import { isSandboxed } from '../options.ts'
import { noteFiles, type SandboxRecord } from './run-state.ts'
import { type PoolContext, SandboxedForksWorker } from './sandboxed-worker.ts'

/** Vitest's forks worker under this pool's name. */
class StockForksWorker extends ForksPoolWorker {
  override readonly name = POOL_NAME
}

/** Vitest's threads worker under this pool's name. */
class StockThreadsWorker extends ThreadsPoolWorker {
  override readonly name = POOL_NAME
}

/**
 * The pools a project may keep for its files that are not isolated. The vm
 * pools are not among them: Vitest turns `isolate` off for them, which would
 * let one sandbox serve several files.
 */
export const KEPT_POOLS = { forks: StockForksWorker, threads: StockThreadsWorker } as const
export type KeptPool = keyof typeof KEPT_POOLS

export interface NsIsolatedPool {
  readonly name: string
  createPoolWorker(options: PoolOptions): PoolWorker
}

/** `keptPool(project)`: the pool the project asked for, for its files that are not isolated. */
export function createNsIsolatedPool(ctx: PoolContext, keptPool: (project: TestProject) => KeptPool): NsIsolatedPool {
  return {
    name: POOL_NAME,
    createPoolWorker(options) {
      const environment = options.environment.name
      if (isSandboxed(environment, ctx.plugin.environments)) return new SandboxedForksWorker(options, ctx)
      const worker = new KEPT_POOLS[keptPool(options.project)](options)
      const record: SandboxRecord = ctx.state.add({
        files: [],
        projectName: options.project.name,
        root: options.project.config.root,
        leaks: ctx.plugin.leaks,
        caps: {},
        unsandboxed: `environment ${environment}: not sandboxed, see docs/vitest.md#any-environment`,
      })
      const send = worker.send.bind(worker)
      worker.send = (message) => {
        noteFiles(record, message)
        send(message)
      }
      return worker
    },
  }
}
