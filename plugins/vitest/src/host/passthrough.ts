/**
 * Which host paths a sandboxed Vitest worker must write through to the host
 * (or read live while the runner keeps writing them). The sandbox's root is a
 * copy-on-write overlay and its /tmp is empty: anything not listed here is
 * lost silently ("1 snapshot written", nothing on disk) or invisible.
 *
 * - snapshots: the directory of each test file's snapshot (`__snapshots__`,
 *   or wherever `resolveSnapshotPath` puts it), for every test file of the
 *   project (the pool learns which file a worker runs only after it
 *   started); and the test files with inline snapshots, which the worker
 *   rewrites;
 * - coverage: `<reportsDirectory>/.tmp` where coverage-v8/istanbul workers
 *   write their per-file JSON;
 * - Vitest's temp dir under os.tmpdir() (`project.tmpDir`): the forks pool
 *   (`cacheFs`) writes transformed modules there and the worker reads them
 *   while the run goes on;
 * - the caches: Vite's `cacheDir` (Vitest's own cache lives in `<cacheDir>/vitest`)
 *   and the file-system module cache, read live by the worker.
 *
 * Paths are resolved through symlinks: the launcher binds onto the path
 * inside the new root, and a symlinked `node_modules` would otherwise point
 * the bind outside of it.
 */
import { existsSync, readFileSync, realpathSync, rmdirSync, statSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import type { TestProject } from 'vitest/node'

/** Resolves symlinks in the longest existing prefix of `p`. */
export function realPath(p: string): string {
  let head = p
  const tail: string[] = []
  while (!existsSync(head)) {
    const parent = dirname(head)
    if (parent === head) return p
    tail.unshift(basename(head))
    head = parent
  }
  try {
    return join(realpathSync(head), ...tail)
  } catch {
    return p
  }
}

function snapshotDir(project: TestProject, file: string): string {
  // The same resolver the worker asks over rpc (`resolveSnapshotPath`), custom or default.
  try {
    const p = project.vitest.snapshot.resolvePath(file, { config: project.serializedConfig })
    return dirname(isAbsolute(p) ? p : resolve(project.config.root, p))
  } catch {
    return join(dirname(file), '__snapshots__')
  }
}

function coverageDir(project: TestProject): string | undefined {
  const coverage = project.vitest.config.coverage
  if (!coverage?.enabled) return undefined
  const shard = project.vitest.config.shard
  const reports = resolve(project.vitest.config.root, coverage.reportsDirectory ?? 'coverage')
  return join(reports, `.tmp${shard ? `-${shard.index}-${shard.count}` : ''}`)
}

const INLINE = /to(?:Match|ThrowErrorMatching)InlineSnapshot\s*\(/
const inlineCache = new Map<string, { mtimeMs: number; inline: boolean }>()

/** Test files with inline snapshots: the worker rewrites the test file itself when it writes one. */
function hasInlineSnapshots(file: string): boolean {
  try {
    const { mtimeMs } = statSync(file)
    const cached = inlineCache.get(file)
    if (cached?.mtimeMs === mtimeMs) return cached.inline
    const inline = INLINE.test(readFileSync(file, 'utf8'))
    inlineCache.set(file, { mtimeMs, inline })
    return inline
  } catch {
    return false
  }
}

/** The writable paths a worker running `files` of `project` needs. */
export function passthroughPaths(project: TestProject, files: string[]): { writable: string[]; created: string[] } {
  const wanted = new Set<string>()
  for (const f of files) {
    wanted.add(snapshotDir(project, f))
    if (hasInlineSnapshots(f)) wanted.add(f)
  }
  const cov = coverageDir(project)
  if (cov) wanted.add(cov)
  const tmpDir = (project as unknown as { tmpDir?: string }).tmpDir
  if (tmpDir) wanted.add(tmpDir)
  const cacheDir = project.vite?.config?.cacheDir
  if (cacheDir) wanted.add(cacheDir)
  const fsCache = (project.config as unknown as { fsModuleCachePath?: string }).fsModuleCachePath
  if (fsCache) wanted.add(fsCache)
  const writable: string[] = []
  const created: string[] = []
  for (const p of wanted) {
    const real = realPath(p)
    // The core creates a missing path as a directory; remember which, so an
    // unused one (an empty __snapshots__) can be removed again afterwards.
    if (!existsSync(real)) created.push(real)
    writable.push(real)
  }
  return { writable, created }
}

/**
 * Directories created only to be bound: removed when empty once no running
 * sandbox binds them any more (two files of one folder can run at once, and
 * removing a directory another sandbox has bound would detach its mount).
 */
export class CreatedDirs {
  private users = new Map<string, number>()

  /** One more sandbox binds `paths`; `created` are the ones created for it. */
  use(paths: string[], created: string[]): void {
    for (const p of paths) {
      const n = this.users.get(p)
      if (n !== undefined) this.users.set(p, n + 1)
      else if (created.includes(p)) this.users.set(p, 1)
    }
  }

  /** That sandbox is gone: an unused created directory is removed if empty. */
  release(paths: string[]): void {
    for (const p of paths) {
      const n = this.users.get(p)
      if (n === undefined) continue // existed before: never ours to remove
      if (n > 1) {
        this.users.set(p, n - 1)
        continue
      }
      this.users.delete(p)
      try {
        rmdirSync(p) // only when empty
      } catch {}
    }
  }
}
