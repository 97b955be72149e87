/**
 * Node's module compile cache for sandboxed workers. Every sandboxed test
 * file gets a new Node process, which compiles the runner's own modules
 * (Vitest's worker, its dependencies) from source each time. Node can keep
 * V8's code cache for the modules its loader compiles (`NODE_COMPILE_CACHE`,
 * Node ≥ 22.1; entries are checked against the source, stale ones ignored);
 * the runners do not turn it on for their workers. The integrations do, for
 * the workers they start: a directory of this user's under the host's temp
 * dir, bound writable into the sandbox like any other writable path.
 *
 * What it changes: workers start with less CPU (measured in bench/vitest.mjs,
 * which also prints stock with the same cache). What it shares: a directory
 * of compiled code that every sandboxed worker of this user reads and adds
 * to, across files and runs. Test files and the project's sources are not
 * in it (Vitest runs them through its own module runner, not Node's loader).
 */
import { lstatSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const COMPILE_CACHE_ENV = 'NODE_COMPILE_CACHE'
const DISABLE_ENV = 'NODE_DISABLE_COMPILE_CACHE'

/** What a sandboxed worker gets: the env entry and the path to bind writable. */
export interface CompileCache {
  dir: string
  env: Record<string, string>
}

/**
 * The compile cache for sandboxed workers, or undefined where there is none:
 * the environment disables it (`NODE_DISABLE_COMPILE_CACHE`), or the
 * directory is not safe to share (not a directory of ours, or writable by
 * others: another user could plant code in it). Where the environment names
 * its own cache (`NODE_COMPILE_CACHE`), that one is used and made writable,
 * as stock Node would write it.
 */
export function compileCacheFor(env: NodeJS.ProcessEnv = process.env, base = tmpdir()): CompileCache | undefined {
  if (env[DISABLE_ENV]) return undefined
  const chosen = env[COMPILE_CACHE_ENV]
  const dir = chosen ? resolve(chosen) : join(base, `ns-isolated-compile-cache-${process.getuid?.() ?? 'user'}`)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = lstatSync(dir)
    if (!st.isDirectory()) return undefined
    // Our own default must be ours alone; a directory the user chose is theirs to vouch for.
    if (!chosen && (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0)) return undefined
  } catch {
    return undefined
  }
  return { dir, env: { [COMPILE_CACHE_ENV]: dir } }
}
