/**
 * The pool the plugin installs in every project: files whose environment is
 * `ns-isolated` get a sandboxed worker; every other file gets Vitest's own
 * forks worker, unchanged (it only carries the pool's name, so Vitest can
 * still reuse it across files when `isolate: false`).
 */
import { ForksPoolWorker, type PoolOptions, type PoolWorker } from 'vitest/node'
import { ENVIRONMENT_NAME, POOL_NAME } from '../names.ts'
import { type PoolContext, SandboxedForksWorker } from './sandboxed-worker.ts'

/** Vitest's forks worker under this pool's name. */
class StockForksWorker extends ForksPoolWorker {
  override readonly name = POOL_NAME
}

export interface NsIsolatedPool {
  readonly name: string
  createPoolWorker(options: PoolOptions): PoolWorker
}

export function createNsIsolatedPool(ctx: PoolContext): NsIsolatedPool {
  return {
    name: POOL_NAME,
    createPoolWorker(options) {
      if (options.environment.name === ENVIRONMENT_NAME) return new SandboxedForksWorker(options, ctx)
      return new StockForksWorker(options)
    },
  }
}
