/**
 * Loaded with `node --require` into every sandboxed Jest worker, before
 * jest-worker's child code. It must cost next to nothing: it runs in every
 * fresh worker. Two hooks on Jest's own modules, each applied the moment
 * Jest requires that module:
 *
 * 1. Every file runs under the ns-isolated environment, whatever its own
 *    (`testEnvironment`, or a `@jest-environment` docblock, which Jest's
 *    worker reads and resolves itself): jest-runner loads a file's
 *    environment as the first module through that file's new script
 *    transformer (so a custom environment is transformed as in stock
 *    Jest); the class it gets back is wrapped (environment.ts,
 *    `wrapEnvironment`), which delegates to it and adds the tracker.
 *
 * 2. Unique temp names for Jest's transform-cache writes. Every sandboxed
 * worker is PID 2 of its own PID namespace. Jest writes its
 * transform cache with write-file-atomic, which names its temp file
 * `<entry>.<hash of pid, thread id, call number>`: in every sandbox the n-th
 * cache write gets the same temp name. Two sandboxed workers writing the
 * same entry at the same time (a cold cache, the first files of a parallel
 * run) then share one temp file, and the second rename fails the test file:
 * "jest: failed to cache transform results in: … ENOENT: no such file or
 * directory, rename '…/x_<hash>.<n>' -> '…/x_<hash>'". Stock Jest's workers
 * have different pids, so this never happens there.
 *
 * So the `sync` of the write-file-atomic that Jest's transform uses (the
 * one instance in this process, not the tests' own copies) gets temp names
 * unique to this process: random per process, plus a counter. The write is
 * otherwise the same: a temp file next to the entry, then a rename.
 */
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { sep } from 'node:path'

interface WriteOptions {
  encoding?: BufferEncoding | null
  mode?: number
  fsync?: boolean
  tmpfileCreated?: (tmpfile: string) => void
}

type SyncWrite = (filename: string, data: string | NodeJS.ArrayBufferView, options?: WriteOptions | string) => void

const PATCHED = Symbol.for('ns-isolated.uniqueTempNames')
// Unique to this process without loading node:crypto: V8 seeds Math.random per process from the OS.
const unique = `${Math.floor(Math.random() * 2 ** 48).toString(36)}${process.hrtime.bigint().toString(36)}`
let count = 0

/** write-file-atomic's `sync`, with temp names that no other process uses. */
export function writeFileAtomicSync(
  filename: string,
  data: string | NodeJS.ArrayBufferView,
  options: WriteOptions | string = {},
): void {
  const o: WriteOptions = typeof options === 'string' ? { encoding: options as BufferEncoding } : options
  let target = filename
  try {
    target = realpathSync(filename)
  } catch {
    // not there yet
  }
  let mode = o.mode
  if (mode === undefined) {
    try {
      mode = statSync(target).mode
    } catch {
      // a new file
    }
  }
  const tmpfile = `${target}.${unique}-${++count}`
  let fd: number | undefined
  try {
    fd = openSync(tmpfile, 'w', mode ?? 0o666)
    o.tmpfileCreated?.(tmpfile)
    if (ArrayBuffer.isView(data)) writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    else if (data != null) writeSync(fd, String(data), 0, o.encoding ?? 'utf8')
    if (o.fsync !== false) fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmpfile, target)
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd)
      } catch {}
    }
    try {
      unlinkSync(tmpfile)
    } catch {}
    throw error
  }
}

type Load = (request: string, parent: { filename?: string | null } | null | undefined, isMain: boolean) => unknown
const Module = require('node:module') as unknown as { _load: Load }
const TRANSFORM_DIR = `${sep}@jest${sep}transform${sep}`

type ScriptTransformer = { requireAndTranspileModule(...args: unknown[]): Promise<unknown> }
type TransformModule = { createScriptTransformer(...args: unknown[]): Promise<ScriptTransformer> }
const RUNNER_DIR = `${sep}jest-runner${sep}build${sep}`
const ENVIRONMENT = require.resolve('../environment')

/** The first module a file's transformer loads is its environment (jest-runner 29 and 30, `runTestInternal`). */
function wrapFirstLoad(transformer: ScriptTransformer): ScriptTransformer {
  const load = transformer.requireAndTranspileModule
  transformer.requireAndTranspileModule = async function (this: unknown, ...args: unknown[]) {
    transformer.requireAndTranspileModule = load
    const Environment = await load.apply(this, args)
    if (typeof Environment !== 'function') return Environment // not a class: Jest says what is wrong with it
    const { wrapEnvironment } = require(ENVIRONMENT) as typeof import('../environment')
    return wrapEnvironment(Environment as never)
  }
  return transformer
}

/** @jest/transform as jest-runner sees it: `createScriptTransformer` gives transformers that wrap the environment. */
function forJestRunner(transform: TransformModule): TransformModule {
  const create = transform.createScriptTransformer
  return {
    ...transform,
    createScriptTransformer: async (...args: unknown[]) => wrapFirstLoad(await create(...args)),
  }
}

/**
 * The two hooks of the module's comment, each applied at the moment Jest
 * requires the module: @jest/transform as jest-runner sees it, and the
 * write-file-atomic of every @jest/transform this worker loads (jest-runner's
 * and jest-runtime's). Nothing is resolved or loaded ahead (resolving Jest's
 * packages up front cost every fresh worker more than the sandbox itself).
 */
export function patchJestModules(): void {
  const load = Module._load
  let forRunner: TransformModule | undefined
  Module._load = function (this: unknown, request, parent, isMain) {
    const exported = load.call(this, request, parent, isMain)
    if (request === '@jest/transform' && parent?.filename?.includes(RUNNER_DIR)) {
      forRunner ??= forJestRunner(exported as TransformModule)
      return forRunner
    }
    if (request === 'write-file-atomic' && parent?.filename?.includes(TRANSFORM_DIR)) {
      const wfa = exported as { sync?: SyncWrite; [PATCHED]?: true }
      if (typeof wfa.sync === 'function' && !wfa[PATCHED]) {
        wfa.sync = writeFileAtomicSync
        wfa[PATCHED] = true
      }
    }
    return exported
  } as Load
}

patchJestModules()
