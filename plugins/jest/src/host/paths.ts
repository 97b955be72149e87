/**
 * The host paths a sandboxed Jest worker must write to (writable binds) or
 * see under the host's /tmp (kept copy-on-write). Without them writes are
 * lost silently: a snapshot "written" to the overlay, a transform cache that
 * starts cold on every run.
 *
 * - Jest's `cacheDirectory` (transform cache): writable.
 * - Each file's snapshot directory (from the project's snapshot resolver):
 *   writable. A bind needs the directory to exist, so a missing one is
 *   created on the host and removed again at the end of the run if it is
 *   still empty (stock Jest creates it only when it writes a snapshot).
 * - The root dir and roots, when under the host's /tmp: kept.
 * Coverage needs nothing: both providers return it over IPC.
 */
import { existsSync, mkdirSync, rmdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path'
import type { Config } from '@jest/types'
import { requireFromJestRunner } from '../jest-modules'

interface SnapshotResolver {
  resolveSnapshotPath(testPath: string): string
}
/**
 * Jest's default resolver (jest-snapshot's createDefaultSnapshotResolver),
 * without loading jest-snapshot: in the runner's process that load sits
 * between Jest's start and the first sandbox's, and costs 50-130 ms here.
 */
const defaultResolver: SnapshotResolver = {
  resolveSnapshotPath: (testPath) => join(dirname(testPath), '__snapshots__', `${basename(testPath)}.snap`),
}
function buildSnapshotResolver(config: Config.ProjectConfig): Promise<SnapshotResolver> {
  if (!config.snapshotResolver) return Promise.resolve(defaultResolver)
  const jestSnapshot = createRequire(requireFromJestRunner().resolve('jest-runtime'))('jest-snapshot') as {
    buildSnapshotResolver(config: Config.ProjectConfig): Promise<SnapshotResolver>
  }
  return jestSnapshot.buildSnapshotResolver(config)
}

const underTmp = (p: string) => p.startsWith(`/tmp${sep}`)

export class HostPaths {
  /** Snapshot directories this run created (removed at the end when still empty). */
  readonly #created = new Set<string>()
  readonly #resolvers = new Map<string, Promise<SnapshotResolver>>()
  readonly #onExit = () => this.cleanup()

  constructor() {
    // `--bail` ends Jest with process.exit: remove what we created even then.
    process.once('exit', this.#onExit)
  }

  /** Writable and kept paths for sandboxes that run these files of one project. */
  async forFiles(
    config: Config.ProjectConfig,
    testPaths: string[],
    userWritable: unknown,
  ): Promise<{ writable: string[]; keep: string[] }> {
    let resolver = this.#resolvers.get(config.id)
    if (!resolver) {
      resolver = buildSnapshotResolver(config)
      this.#resolvers.set(config.id, resolver)
    }
    const r = await resolver
    const writable = new Set<string>()
    // The user's own writable paths (validated by the core), relative to the root dir as documented.
    if (Array.isArray(userWritable)) {
      for (const p of userWritable)
        if (typeof p === 'string' && p) writable.add(isAbsolute(p) ? p : resolve(config.rootDir, p))
    }
    // Made here, as Jest would: it is the run's, shared by all its sandboxes (not one sandbox's to remove).
    mkdirSync(config.cacheDirectory, { recursive: true })
    writable.add(config.cacheDirectory)
    for (const testPath of testPaths) {
      const dir = dirname(r.resolveSnapshotPath(testPath))
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true })
        this.#created.add(dir)
      }
      writable.add(dir)
    }
    const keep = [config.rootDir, ...config.roots].filter(underTmp)
    return { writable: [...writable], keep: [...new Set(keep)] }
  }

  /** Removes the snapshot directories this run created that stayed empty. */
  cleanup(): void {
    for (const dir of this.#created) {
      try {
        rmdirSync(dir) // fails, harmlessly, when a snapshot was written
      } catch {}
    }
    this.#created.clear()
  }

  dispose(): void {
    this.cleanup()
    process.removeListener('exit', this.#onExit)
  }
}
