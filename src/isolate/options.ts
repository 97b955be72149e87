/**
 * The one place isolate's own options are validated (args, timeout, signal,
 * stdio, from, pool, execArgv, env). Sandbox options go through the core
 * `resolveOptions`, with these keys allowed, so an unknown key gets the
 * same message wherever it was made.
 */
import { serialize } from 'node:v8'
import { describeValue, parseTimeout, resolveOptions, type SandboxOptions } from '../options.ts'
import { findUncloneable } from './errors-transfer.ts'
import { fromOption } from './source.ts'
import type { IsolateStdio } from './types.ts'

const CALL_KEYS = ['args', 'timeout', 'signal', 'stdio', 'from'] as const
const PROCESS_KEYS = ['execArgv', 'env'] as const

/** A validated call: what the sandbox process needs, and the sandbox options for `prepareSandbox`. */
export interface ValidatedCall {
  /** `v8.serialize(args)`. */
  args: Uint8Array
  timeout: number | undefined
  signal: AbortSignal | undefined
  stdio: IsolateStdio
  from: string | undefined
}

export interface ValidatedProcess {
  sandbox: SandboxOptions
  execArgv: string[]
  env: NodeJS.ProcessEnv | undefined
}

/**
 * Validates isolate's options; `kind` says which keys are allowed:
 * `'isolate'` (everything), `'call'` (a pool's run), `'pool'`
 * (createIsolatePool). Throws a precise TypeError on the first mistake.
 */
export function validateIsolateOptions(
  input: unknown,
  kind: 'isolate' | 'call' | 'pool',
): { call: ValidatedCall; process: ValidatedProcess; pool: { size: number } | undefined } {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new TypeError(`ns-isolated: options must be an object; got ${describeValue(input)}.`)
  }
  const o = { ...(input as Record<string, unknown> | undefined) }
  const own: readonly string[] =
    kind === 'call'
      ? CALL_KEYS
      : kind === 'pool'
        ? ['timeout', 'size', ...PROCESS_KEYS]
        : [...CALL_KEYS, ...PROCESS_KEYS, 'pool']
  if (kind === 'call') {
    for (const key of Object.keys(o)) {
      if (!own.includes(key)) {
        throw new TypeError(
          `ns-isolated: unknown option \`${key}\` for a pool call (sandbox options are the pool's). Known options: ${[...own].sort().join(', ')}.`,
        )
      }
    }
  }

  const timeout = parseTimeout(o.timeout)
  const signal = o.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`ns-isolated: option \`signal\` must be an AbortSignal; got ${describeValue(signal)}.`)
  }
  const stdio = o.stdio ?? 'inherit'
  if (stdio !== 'inherit' && stdio !== 'pipe' && stdio !== 'ignore') {
    throw new TypeError(
      `ns-isolated: option \`stdio\` must be one of 'inherit', 'pipe', 'ignore'; got ${describeValue(stdio)}.`,
    )
  }
  let from: string | undefined
  if (o.from !== undefined) {
    if (!(o.from instanceof URL) && (typeof o.from !== 'string' || o.from === '')) {
      throw new TypeError(
        `ns-isolated: option \`from\` must be a file path or URL such as import.meta.url; got ${describeValue(o.from)}.`,
      )
    }
    if (String(o.from).includes(':') && !String(o.from).startsWith('file:') && !String(o.from).startsWith('/')) {
      throw new TypeError(
        `ns-isolated: option \`from\` must be a file path or a file: URL; got ${describeValue(String(o.from))}.`,
      )
    }
    from = fromOption(o.from as string | URL)
  }
  let args: Uint8Array
  try {
    args = serialize(o.args)
  } catch {
    const found = findUncloneable(o.args, 'args')
    throw new TypeError(
      `ns-isolated: option \`args\` cannot be cloned into the sandbox: ${found?.path ?? 'args'} is ${found?.kind ?? 'not cloneable'}. Only structured-cloneable values cross (no functions, symbols, native handles).`,
    )
  }

  let execArgv: string[] = []
  if (o.execArgv !== undefined) {
    if (!Array.isArray(o.execArgv) || o.execArgv.some((a) => typeof a !== 'string')) {
      throw new TypeError(
        `ns-isolated: option \`execArgv\` must be an array of strings; got ${describeValue(o.execArgv)}.`,
      )
    }
    execArgv = o.execArgv as string[]
  }
  const env = o.env as NodeJS.ProcessEnv | undefined
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env))) {
    throw new TypeError(`ns-isolated: option \`env\` must be an object of strings; got ${describeValue(env)}.`)
  }

  let pool: { size: number } | undefined
  const size = kind === 'pool' ? (o.size ?? 1) : o.pool === true ? 1 : (o.pool as { size?: unknown } | undefined)?.size
  if (kind === 'pool' || (o.pool !== undefined && o.pool !== false)) {
    if (kind === 'isolate' && o.pool !== true && (typeof o.pool !== 'object' || o.pool === null)) {
      throw new TypeError(`ns-isolated: option \`pool\` must be true or { size: n }; got ${describeValue(o.pool)}.`)
    }
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 64) {
      throw new TypeError(
        `ns-isolated: option \`${kind === 'pool' ? 'size' : 'pool.size'}\` must be a whole number from 1 to 64; got ${describeValue(size)}.`,
      )
    }
    pool = { size }
  }

  // Everything else is a sandbox option: the core validates it (and names
  // our keys among the known ones when a key is wrong).
  for (const key of own) delete o[key]
  if (kind !== 'call') resolveOptions(o as SandboxOptions, own)
  return {
    call: { args, timeout, signal: signal as AbortSignal | undefined, stdio, from },
    process: { sandbox: o as SandboxOptions, execArgv, env },
    pool,
  }
}
