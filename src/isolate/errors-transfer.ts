/**
 * Errors and values across the process boundary, both sides. V8's
 * structured clone keeps an Error's message and stack but only the standard
 * names, and drops its own properties; a thrown error is therefore sent as a
 * plain record (name, message, stack, own properties, cause) and rebuilt on
 * the host. Also: finding *what* inside a value could not be cloned, so the
 * message can name it.
 */
import { serialize } from 'node:v8'

const STANDARD: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError,
}

/** A thrown value, ready for structured clone. */
export type TransferredThrow = { kind: 'error'; error: TransferredError } | { kind: 'value'; value: unknown }

export interface TransferredError {
  name: string
  message: string
  stack: string | undefined
  /** The standard constructor to rebuild with (`Error` for custom classes). */
  base: string
  /** Own properties that could be cloned. */
  props: Record<string, unknown>
  /** Own properties that could not be cloned (named on the rebuilt error). */
  dropped: string[]
  cause?: TransferredThrow
  /** AggregateError's errors. */
  errors?: TransferredThrow[]
}

function cloneable(value: unknown): boolean {
  try {
    serialize(value)
    return true
  } catch {
    return false
  }
}

function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]'
}

/** Child side: a thrown value → something `process.send` can carry. */
export function toTransfer(thrown: unknown, depth = 0): TransferredThrow {
  if (!isError(thrown) || depth > 8) {
    return cloneable(thrown) ? { kind: 'value', value: thrown } : { kind: 'value', value: String(thrown) }
  }
  let base = 'Error'
  for (let p = Object.getPrototypeOf(thrown); p; p = Object.getPrototypeOf(p)) {
    const n = p.constructor?.name
    if (typeof n === 'string' && n in STANDARD && STANDARD[n]?.prototype === p) {
      base = n
      break
    }
  }
  const error: TransferredError = {
    name: String(thrown.name),
    message: String(thrown.message),
    stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
    base,
    props: {},
    dropped: [],
  }
  for (const key of Object.getOwnPropertyNames(thrown)) {
    if (key === 'stack' || key === 'message' || key === 'cause' || key === 'errors') continue
    const value = (thrown as unknown as Record<string, unknown>)[key]
    if (cloneable(value)) error.props[key] = value
    else error.dropped.push(key)
  }
  if ('cause' in thrown) error.cause = toTransfer(thrown.cause, depth + 1)
  if (thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    error.errors = thrown.errors.map((e) => toTransfer(e, depth + 1))
  }
  return { kind: 'error', error }
}

/** Host side: rebuilds the thrown value. `hostFrames` (the caller's stack lines) are appended to the stack. */
export function fromTransfer(t: TransferredThrow, hostFrames = ''): unknown {
  if (t.kind === 'value') return t.value
  const e = t.error
  const Ctor = STANDARD[e.base] ?? Error
  const error = t.error.errors
    ? new AggregateError(
        e.errors?.map((x) => fromTransfer(x)) ?? [],
        e.message,
        e.cause ? { cause: fromTransfer(e.cause) } : undefined,
      )
    : new Ctor(e.message, e.cause ? { cause: fromTransfer(e.cause) } : undefined)
  if (error.name !== e.name) {
    Object.defineProperty(error, 'name', { value: e.name, writable: true, enumerable: false, configurable: true })
  }
  for (const [k, v] of Object.entries(e.props)) {
    if (k === 'name') continue
    ;(error as unknown as Record<string, unknown>)[k] = v
  }
  if (e.dropped.length > 0) {
    Object.defineProperty(error, 'droppedProperties', { value: e.dropped, enumerable: false, configurable: true })
  }
  const stack = e.stack ?? `${e.name}: ${e.message}`
  Object.defineProperty(error, 'stack', {
    value: hostFrames ? `${stack}\n${hostFrames}` : stack,
    writable: true,
    enumerable: false,
    configurable: true,
  })
  return error
}

function kindOf(value: unknown): string {
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`
  if (typeof value === 'symbol') return `a symbol (${String(value)})`
  if (value instanceof Promise) return 'a Promise (await it before returning)'
  if (value instanceof WeakMap) return 'a WeakMap'
  if (value instanceof WeakSet) return 'a WeakSet'
  if (typeof value === 'object' && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name
    return name ? `a ${name} (a native object)` : 'a native object'
  }
  return `a ${typeof value}`
}

function childEntries(value: object): [string, unknown][] {
  if (value instanceof Map) {
    const out: [string, unknown][] = []
    let i = 0
    for (const [k, v] of value) {
      out.push([`<Map key ${i}>`, k], [`.get(${typeof k === 'string' ? JSON.stringify(k) : `<key ${i}>`})`, v])
      i++
    }
    return out
  }
  if (value instanceof Set) return [...value].map((v, i) => [`<Set item ${i}>`, v])
  if (Array.isArray(value)) return value.map((v, i) => [`[${i}]`, v])
  return Object.keys(value).map((k) => [
    /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`,
    (value as Record<string, unknown>)[k],
  ])
}

/**
 * The path and kind of the first part of `value` that structured clone
 * refuses, e.g. `value.server` is `a Server (a native object)`; undefined
 * when `value` clones.
 */
export function findUncloneable(
  value: unknown,
  path = 'value',
  seen = new Set<unknown>(),
): { path: string; kind: string } | undefined {
  if (cloneable(value)) return undefined
  if (typeof value !== 'object' || value === null) return { path, kind: kindOf(value) }
  if (seen.has(value)) return undefined
  seen.add(value)
  for (const [key, child] of childEntries(value)) {
    const found = findUncloneable(child, `${path}${key.startsWith('<') ? ` ${key}` : key}`, seen)
    if (found) return found
  }
  return { path, kind: kindOf(value) }
}
