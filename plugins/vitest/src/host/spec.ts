/**
 * What a sandboxed worker is started with (its `WorkerSpec`: the sandbox
 * options, the paths passed through, the environment) and whether a spare
 * may be booted ahead for the next file. Pure decisions over Vitest's pool
 * options and the plugin's: the pool worker (sandboxed-worker.ts) only acts
 * on them.
 */
import { availableParallelism } from 'node:os'
import { isAbsolute, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compileCacheFor, type MissingIsolation } from 'ns-isolated'
import type { PoolOptions } from 'vitest/node'
import { LEAKS_ENV, NO_NAMESPACES_ENV, VITEST_INDEX_ENV } from '../names.ts'
import type { ResolvedPluginOptions, resolveFileOptions } from '../options.ts'
import { specKey, type WorkerSpec } from './boot.ts'
import { passthroughPaths, realPath } from './passthrough.ts'
import type { RunState } from './run-state.ts'

function isUnderTmp(p: string): boolean {
  const r = relative('/tmp', p)
  return r !== '' && !r.startsWith('..') && !isAbsolute(r)
}

/** `--inspect`, `--inspect-brk`, `--inspect-wait`, `--inspect=…` among the worker's flags. */
function hasInspectFlag(execArgv: readonly string[]): boolean {
  return execArgv.some((a) => /^--inspect(-brk|-wait)?(=|$)/.test(a))
}

/**
 * The spec of one file's worker: Vitest's forks entry, run in a sandbox
 * with the file's options; `without`: no namespaces, for this reason.
 */
export function workerSpec(
  options: PoolOptions,
  plugin: ResolvedPluginOptions,
  state: RunState,
  file: ReturnType<typeof resolveFileOptions>,
  without: MissingIsolation | undefined,
): WorkerSpec {
  const { project } = options
  const root = project.config.root
  const files = ((project as unknown as { testFilesList?: string[] | null }).testFilesList ?? []).slice()
  // The same for every file of the project in this run: stat-ing and resolving every test file for
  // each file's start made a run O(files²) (1,000 files: a million stats).
  const through = state.memo(project, files.join('\0'), () => passthroughPaths(project, files))
  const cwd = file.sandbox.cwd !== undefined ? resolve(root, file.sandbox.cwd) : root
  const own = (file.sandbox.writable ?? []).map((w) => realPath(resolve(cwd, w)))
  const compileCache = plugin.compileCache ? compileCacheFor({ ...process.env, ...options.env }) : undefined
  const sandbox = {
    ...file.sandbox,
    cwd,
    writable: [...own, ...through.writable, ...(compileCache ? [compileCache.dir] : [])],
    // The inspector listens inside the worker; on the sandbox's own loopback
    // no debugger on the host could reach it. Share the host's network then.
    ...(project.vitest.config.inspector?.enabled ? { network: 'host' as const } : {}),
    ...(without ? { namespaces: false } : {}),
  }
  const keep = [...new Set([realPath(root), realPath(project.vitest.config.root)])].filter(isUnderTmp)
  const fields = {
    entrypoint: resolve(options.distPath, 'workers/forks.js'),
    sandbox,
    keep,
    through,
    env: {
      ...options.env,
      ...compileCache?.env,
      [VITEST_INDEX_ENV]: pathToFileURL(resolve(options.distPath, 'index.js')).href,
      [LEAKS_ENV]: file.leaks,
      ...(without ? { [NO_NAMESPACES_ENV]: '1' } : {}),
    },
    execArgv: options.execArgv,
    cwd,
  }
  return { ...fields, project, key: specKey(fields) }
}

/**
 * Whether to boot a spare for the project's next file while this one runs.
 * Only on a core the run leaves idle: with a worker on every core a spare
 * only competes with them, and runs were slower with spares. Never with an
 * inspector, which a spare would open (or, with --inspect-brk, stop at)
 * before any file is its own.
 */
export function prewarms(plugin: ResolvedPluginOptions, spec: WorkerSpec): boolean {
  const { config } = spec.project
  const idleCore = (config.maxWorkers ?? Number.POSITIVE_INFINITY) < availableParallelism()
  return plugin.prewarm && idleCore && !spec.project.vitest.config.inspector?.enabled && !hasInspectFlag(spec.execArgv)
}
