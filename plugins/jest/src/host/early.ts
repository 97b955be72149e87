/**
 * The first sandboxed worker, started while Jest reads its config (from the
 * preset, or `withNsIsolated`), so that its start and its loading of Jest's
 * runtime, the environment and the transform overlap Jest's own start
 * (reading configs, crawling the project) instead of following it. Stock
 * Jest on a small machine runs files in its own process, which has all of
 * that loaded by then; this is what keeps the default close to it.
 *
 * What it cannot know yet, it is told later (SandboxWorker.adopt): the
 * paths its files write to (the cache directory, snapshot directories) come
 * as a new plan on a control socket only the runner holds, and Jest's setup
 * data with the first file. The runner takes it for its first worker when
 * that worker would be the same sandbox: `isolation: 'reuse'`, the same
 * sandbox options and compile cache (`adoptEarly`); its start then also
 * answers the runner's host probe (`earlyProof`). Otherwise, or when Jest
 * ends without running files, it is ended; until taken it keeps no Jest
 * process alive. It is not started where no files will run (`--listTests`,
 * `--showConfig`), nor for watch mode (files run again and again).
 */
import { readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { compileCacheFor, resolveOptions } from 'ns-isolated'
import { requireFromJestRunner } from '../jest-modules'
import { splitOptions } from '../options'
import { SandboxWorker } from './sandbox-worker'
import { createStatusDir } from './status-dir'
import { resolveJestOptions } from './validate'

/** Jest's flags after which no file runs in this process, or files run again and again (watch). */
const NO_RUN = new Set([
  'listtests',
  'showconfig',
  'clearcache',
  'init',
  'help',
  'h',
  'version',
  'v',
  'watch',
  'watchall',
])

/** `NS_ISOLATED_JEST_EARLY_START=0`: no worker is started ahead (docs/how-it-works.md). */
export const EARLY_OFF_ENV = 'NS_ISOLATED_JEST_EARLY_START'

interface Early {
  worker: SandboxWorker
  /** The sandbox options it was started with, as a key (`sandboxKey`). */
  key: string
  compileCache: boolean
  statusDir: string
  taken: boolean
  /** Settles true once a file's worker is this one, with its new plan applied; false once it is not to be. */
  proof: Promise<boolean>
  proved(ok: boolean): void
}

let early: Early | null | undefined

/** Sandbox options as a key: the same options in any order give the same key. */
export function sandboxKey(sandbox: Record<string, unknown>): string {
  return JSON.stringify(Object.entries(sandbox).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** Jest is reading its config in this process (not a tool or test that loads the preset or the helper by hand). */
function readingJestConfig(): boolean {
  return Object.keys(require.cache).some((p) => /[\\/]node_modules[\\/]jest-config[\\/]build[\\/]/.test(p))
}

function willRunFiles(argv: string[]): boolean {
  for (const a of argv.slice(2)) {
    if (!a.startsWith('-')) continue
    const flag = a.replace(/^-+/, '').split('=')[0]?.replace(/-/g, '').toLowerCase() ?? ''
    if (NO_RUN.has(flag)) return false
  }
  return true
}

type ConfigSeen = { preset?: unknown; transform?: unknown; testEnvironmentOptions?: unknown; projects?: unknown }

/** The value of `--config`/`-c` on Jest's command line. */
function configArg(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const m = /^(?:--config|-c)(?:=(.*))?$/.exec(argv[i] as string)
    if (m) return m[1] ?? argv[i + 1]
  }
  return undefined
}

/**
 * The config Jest is reading, as far as this process can see it when the
 * preset is evaluated (Jest loads the config first, then its preset):
 * a CommonJS config file is in require's cache; a JSON one (or
 * package.json's "jest", or `--config '{…}'`) is read again. Undefined
 * where it cannot tell (an ES module, a function).
 */
function configBeingRead(cwd: string): ConfigSeen | undefined {
  const arg = configArg(process.argv)
  if (arg?.trim().startsWith('{')) return JSON.parse(arg) as ConfigSeen
  const names = arg
    ? [resolve(cwd, arg)]
    : ['jest.config.js', 'jest.config.cjs', 'jest.config.ts', 'jest.config.cts', 'jest.config.json'].map((n) =>
        join(cwd, n),
      )
  for (const file of names) {
    const cached = require.cache[file]?.exports as { default?: unknown } | undefined
    const config = cached && typeof cached === 'object' && 'default' in cached ? cached.default : cached
    if (config && typeof config === 'object') return config as ConfigSeen
    if (file.endsWith('.json')) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as ConfigSeen
      } catch {}
    }
  }
  if (arg) return undefined
  try {
    return (JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { jest?: ConfigSeen }).jest
  } catch {
    return undefined
  }
}

/** Modules a first file loads that this config names (its transform's), resolved from the project; else the default transform's. */
function preloadFor(config: { preset?: unknown; transform?: unknown }, cwd: string): string[] {
  const names = new Set<string>()
  if (typeof config.preset === 'string' && /^ts-jest(\/|$)/.test(config.preset)) names.add('ts-jest').add('typescript')
  if (config.transform && typeof config.transform === 'object') {
    for (const t of Object.values(config.transform)) {
      const name = Array.isArray(t) ? t[0] : t
      if (typeof name === 'string') names.add(name)
      if (name === 'ts-jest') names.add('typescript')
    }
  }
  const fromProject = createRequire(join(cwd, 'package.json'))
  if (names.size === 0) {
    // Jest's default transform, babel-jest, as jest-config resolves it, and the Babel it loads for its cache key.
    try {
      const jestConfig = createRequire(requireFromJestRunner().resolve('jest-runtime'))
      const babelJest = jestConfig.resolve('babel-jest')
      return [babelJest, createRequire(babelJest).resolve('@babel/core')]
    } catch {
      return []
    }
  }
  const out: string[] = []
  for (const name of names) {
    try {
      out.push(fromProject.resolve(name))
    } catch {
      // not installed where the project is: Jest will say so when it needs it
    }
  }
  return out
}

/**
 * The sandbox options of the config's projects (itself, or each of its
 * `projects`), when they are all the same: a reused sandbox serves the files
 * of every project with the same options. Undefined when they differ, or a
 * project is a path this process has not read.
 */
function commonOptions(config: ConfigSeen): { all: Record<string, unknown>; projects: ConfigSeen[] } | undefined {
  const projects: ConfigSeen[] = []
  for (const p of Array.isArray(config.projects) ? config.projects : [config]) {
    if (!p || typeof p !== 'object') return undefined
    projects.push(p as ConfigSeen)
  }
  const optionsOf = (p: ConfigSeen) =>
    p.testEnvironmentOptions && typeof p.testEnvironmentOptions === 'object'
      ? (p.testEnvironmentOptions as Record<string, unknown>)
      : {}
  const all = optionsOf(projects[0] ?? {})
  const key = sandboxKey(splitOptions(all).sandbox)
  if (projects.some((p) => sandboxKey(splitOptions(optionsOf(p)).sandbox) !== key)) return undefined
  return { all, projects }
}

/**
 * Starts the worker ahead, once per process: from `withNsIsolated`, with
 * the config it returns; from the preset, with the config being read
 * (`configBeingRead`; no options where it cannot tell). Never throws:
 * whatever goes wrong here, the runner starts its workers as usual and
 * says what is wrong.
 */
export function startEarly(given?: ConfigSeen): void {
  if (early !== undefined) return
  early = null
  if (process.platform !== 'linux' || process.env[EARLY_OFF_ENV] === '0') return
  if (!readingJestConfig() || !willRunFiles(process.argv)) return
  try {
    const common = commonOptions(given ?? configBeingRead(process.cwd()) ?? {})
    if (!common) return
    const { sandbox, jest } = splitOptions(common.all)
    const jestOptions = resolveJestOptions(jest)
    if (jestOptions.isolation !== 'reuse') return
    const resolved = resolveOptions(sandbox as never)
    const preload = [...new Set(common.projects.flatMap((p) => preloadFor(p, resolved.cwd)))]
    const compileCache = jestOptions.compileCache ? compileCacheFor() : undefined
    const statusDir = createStatusDir()
    const worker = new SandboxWorker({
      sandbox: { ...sandbox, writable: [...resolved.writable, ...(compileCache ? [compileCache.dir] : [])] },
      env: { ...compileCache?.env },
      keep: [],
      workerId: 1,
      reuse: true,
      statusDir,
      early: { preload },
    })
    let proved!: (ok: boolean) => void
    const proof = new Promise<boolean>((r) => {
      proved = r
    })
    const e: Early = {
      worker,
      key: sandboxKey(sandbox),
      compileCache: jestOptions.compileCache,
      statusDir,
      taken: false,
      proof,
      proved,
    }
    early = e
    // Jest ends without a file for it (none found, an error): end it and its sandbox before the process exits.
    process.once('beforeExit', () => {
      if (!e.taken) void end(e)
    })
    // process.exit() allows nothing asynchronous: the launcher is killed, and the next run sweeps its cgroup.
    process.once('exit', () => {
      if (!e.taken) worker.kill()
      rmSync(statusDir, { recursive: true, force: true })
    })
  } catch {
    early = null
  }
}

function end(e: Early): Promise<unknown> {
  e.taken = true
  e.proved(false)
  return e.worker.end().finally(() => rmSync(e.statusDir, { recursive: true, force: true }))
}

/**
 * The worker started ahead as the runner's first worker of a reused sandbox
 * with these options (`paths` and `setupArgs` as SandboxWorker.adopt takes
 * them), or undefined: none was started, it was taken, it is not the same
 * sandbox, or it could not take the plan (then it is ended).
 */
export async function adoptEarly(
  sandbox: Record<string, unknown>,
  compileCache: boolean,
  paths: { writable: string[]; keep: string[] },
  setupArgs: unknown[],
): Promise<SandboxWorker | undefined> {
  const e = early
  if (!e || e.taken) return undefined
  if (e.key !== sandboxKey(sandbox) || e.compileCache !== compileCache) {
    void end(e)
    return undefined
  }
  e.taken = true
  try {
    await e.worker.adopt(paths, setupArgs)
  } catch {
    void end(e)
    return undefined
  }
  e.proved(true)
  return e.worker
}

/**
 * Whether this host can set up a sandbox with these options, as far as the
 * worker started ahead tells: true once a file took it (its setup and a
 * reset into the run's plan worked); false when it is not to be (then ask
 * the host another way). Undefined when it was started with other options.
 */
export function earlyProof(sandbox: Record<string, unknown>): Promise<boolean> | undefined {
  return early && !early.taken && early.key === sandboxKey(sandbox) ? early.proof : undefined
}

/** The run has planned its workers: a worker started ahead that no file took is ended now. */
export function dropEarly(): void {
  if (early && !early.taken) void end(early)
}
