/**
 * Preloaded (`node --import`) into every sandboxed worker, and only there:
 * it installs the per-test tracker (`track.cts`) in each test file the
 * worker collects, at the point where Vitest runs a file's setup files, and
 * ahead of them.
 *
 * Why not a setup file: Vitest loads every setup file through its module
 * runner, an RPC to the main process per file (even an empty setup file cost
 * each test file ~7 ms measured here, see docs/vitest.md), and a setup file
 * runs in every file of the project, sandboxed or not. Here nothing goes
 * through the module runner and files that are not sandboxed carry nothing.
 *
 * How: for each file, Vitest's `TestRunner` (the runner of every worker, and
 * the base class of custom runners) clears the collector, then imports the
 * file's setup files and then the file itself, each through `importFile`.
 * The first `importFile` of each file registers the tracker's hooks, exactly
 * where the first setup file would. The class is taken from the very Vitest that
 * started this worker (its `dist/index.js`, named by the pool), not from
 * whatever `vitest` this package would resolve.
 */
import { createRequire } from 'node:module'
import { VITEST_INDEX_ENV } from '../names.ts'
import type { Hooks } from './track.cts'

type Runner = { importFile(this: unknown, filepath: string, source: 'setup' | 'collect'): unknown }
type VitestIndex = Hooks & { TestRunner: { prototype: Runner } }

const index = process.env[VITEST_INDEX_ENV]
// Not for the processes a test starts: they inherit the environment and, through fork(), the execArgv.
delete process.env[VITEST_INDEX_ENV]
const self = `--import=${import.meta.url}`
for (let i = process.execArgv.indexOf(self); i !== -1; i = process.execArgv.indexOf(self)) process.execArgv.splice(i, 1)

if (index) {
  const vitest = (await import(index)) as VitestIndex
  const { install } = createRequire(import.meta.url)('./track.cjs') as { install(hooks: Hooks): void }
  const hooks: Hooks = { afterAll: vitest.afterAll, afterEach: vitest.afterEach, beforeEach: vitest.beforeEach }
  const proto = vitest.TestRunner.prototype
  const { importFile } = proto
  // Each file's collection imports its setup files ('setup') and then the file ('collect'): the first
  // import after the previous file's 'collect' starts the next file. A setup file that throws ends its
  // file's collection there (no 'collect' follows): the next import starts the next file then too.
  let due = true
  proto.importFile = function (filepath, source) {
    if (due) install(hooks)
    due = source === 'collect'
    const imported = importFile.call(this, filepath, source)
    if (source === 'setup')
      Promise.resolve(imported).catch(() => {
        due = true
      })
    return imported
  }
}
