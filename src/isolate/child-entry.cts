/**
 * Sandbox side: the module `isolate` forks inside the sandbox (through the
 * launcher). It says it is ready, waits for one function, runs it, sends the
 * result back and exits — one function per process, never reused. It loads
 * nothing but built-ins so a cold start costs little more than Node's own.
 */
// CommonJS with plain require()s on purpose: an ES module entry (and every
// module it imports) is slower to start; `v8` is loaded by the
// advanced-serialization IPC channel anyway.
// What only the error paths need is imported when they happen.
import type { ChildMessage, IsolateTarget, RunMessage } from './protocol.ts'

const { existsSync } = require('node:fs') as typeof import('node:fs')
const { createRequire } = require('node:module') as typeof import('node:module')
const { deserialize, serialize } = require('node:v8') as typeof import('node:v8')
const vm = require('node:vm') as typeof import('node:vm')
type ErrorsTransfer = typeof import('./errors-transfer.ts')
/** errors-transfer is an ES module shared with the host; `import()` it only when a value or an error must cross. */
const errorsTransfer = (): Promise<ErrorsTransfer> => import('./errors-transfer.js') as Promise<ErrorsTransfer>

const send = process.send?.bind(process)
if (!send) {
  process.stderr.write('ns-isolated: child-entry is started by isolate(), with an IPC channel.\n')
  process.exit(2)
}

let replied = false
function reply(msg: ChildMessage): void {
  if (replied) return
  replied = true
  // Exit once the message is out: whatever the function left running (a
  // server, timers, children) must not keep the sandbox alive; PID 1 reports
  // and kills the processes left behind.
  send?.(msg, () => process.exit(0))
}

function replyThrown(thrown: unknown): void {
  if (replied) return
  const cleaned = cleanStack(thrown)
  void errorsTransfer().then(
    ({ toTransfer }) => reply({ t: 'threw', thrown: toTransfer(cleaned) }),
    () => reply({ t: 'threw', thrown: { kind: 'value', value: String(cleaned) } }),
  )
}

// Frames of this file: CommonJS stacks name it by path (by URL in some forms).
const selfUrl = require('node:url').pathToFileURL(__filename).href as string
/** Drops this module's and Node's internal frames: the stack ends at the user's code. */
function cleanStack(thrown: unknown): unknown {
  if (thrown instanceof Error && typeof thrown.stack === 'string') {
    const lines = thrown.stack.split('\n')
    const kept = lines.filter(
      (l) =>
        !(
          l.startsWith('    at ') &&
          (l.includes(__filename) || l.includes(selfUrl) || l.includes('(node:internal') || /at node:internal/.test(l))
        ),
    )
    try {
      thrown.stack = kept.join('\n')
    } catch {}
  }
  return thrown
}

/**
 * Compiles `(s, o) => import(s, o)` as if written in `filename`, so specifiers
 * resolve from the caller's file (relative paths and its node_modules).
 */
type Importer = (specifier: string, options?: ImportCallOptions) => Promise<Record<string, unknown>>

function importerFor(filename: string): Importer {
  return new vm.Script('(s, o) => import(s, o)', {
    filename,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }).runInThisContext()
}

/**
 * USE_MAIN_CONTEXT_DEFAULT_LOADER is experimental in Node 22–24 and warns
 * on first use; that warning is about us, not the user's code: drop it
 * (only it).
 */
const emitWarning = process.emitWarning
process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
  if (String(typeof w === 'string' ? w : w?.message).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return
  ;(emitWarning as (...a: unknown[]) => void).call(process, w, ...rest)
}) as typeof process.emitWarning

/** What code transformed by a test runner refers to for `import()` and `import.meta` (Vitest, Babel). */
const SHIMS = [
  '__vite_ssr_dynamic_import__',
  '__vite_ssr_import_meta__',
  'require',
  '_interopRequireWildcard',
  '_interopRequireDefault',
] as const

function shimValues(filename: string, viteRoot: string | undefined): unknown[] {
  // Made on first use: most functions need none of them, and a warm call should cost little.
  let importer: Importer | undefined
  let req: NodeJS.Require | undefined
  const getRequire = () => {
    req ??= createRequire(path)
    return req
  }
  const url = filename.startsWith('file:') ? filename : `file://${filename}`
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : filename
  const meta = { url, filename: path, dirname: path.slice(0, path.lastIndexOf('/')) || '/' }
  const dynamicImport = (s: string, o?: ImportCallOptions) => {
    importer ??= importerFor(filename)
    return importer(viteSpecifier(s, viteRoot), o)
  }
  const require = Object.assign((id: string) => getRequire()(id), { resolve: (id: string) => getRequire().resolve(id) })
  const wildcard = (m: Record<string, unknown> | null) => (m?.__esModule ? m : { ...m, default: m })
  const dflt = (m: Record<string, unknown> | null) => (m?.__esModule ? m : { default: m })
  return [dynamicImport, meta, require, wildcard, dflt]
}

/** Vite's forms of a resolved import: `/@fs/<absolute>`, or `/<path under the root>`. */
function viteSpecifier(s: string, root: string | undefined): string {
  if (s.startsWith('/@fs/')) return s.slice(4)
  if (root !== undefined && s.startsWith('/') && !existsSync(s) && existsSync(root + s)) return root + s
  return s
}

function compile(target: Extract<IsolateTarget, { kind: 'source' }>): (args: unknown) => unknown {
  // The source is wrapped on its own first line, so the function's lines
  // keep their numbers; columnOffset puts the first line's columns back.
  const head = `(function (${SHIMS.join(', ')}) { return (`
  const attempt = (body: string, pick: (v: unknown) => unknown) => {
    const script = new vm.Script(`${head}${body}\n)})`, {
      filename: target.filename,
      lineOffset: target.line - 1,
      columnOffset: target.column - 1 - head.length,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    })
    const outer = script.runInThisContext() as (...a: unknown[]) => unknown
    return pick(outer(...shimValues(target.filename, target.viteRoot)))
  }
  let fn: unknown
  try {
    fn = attempt(target.source, (v) => v)
  } catch (e) {
    // A method (`run(a) { … }`) is not an expression on its own.
    if (!(e instanceof SyntaxError)) throw e
    fn = attempt(`{ ${target.source} }`, (v) => Object.values(v as object)[0])
  }
  if (typeof fn !== 'function') throw new TypeError('ns-isolated: the isolated source did not evaluate to a function.')
  return fn as (args: unknown) => unknown
}

async function load(target: IsolateTarget): Promise<(args: unknown) => unknown> {
  if (target.kind === 'source') return compile(target)
  const mod = await importerFor(target.filename)(target.specifier)
  const fn = mod[target.exportName]
  if (typeof fn !== 'function') {
    throw new TypeError(
      `ns-isolated: the module '${target.specifier}' has no function export '${target.exportName}' (it exports: ${Object.keys(mod).join(', ') || 'nothing'}).`,
    )
  }
  return fn as (args: unknown) => unknown
}

/** A ReferenceError in a function sent as source is almost always a closure variable: say so. */
function explainClosure(e: unknown, target: IsolateTarget): unknown {
  if (target.kind === 'source' && e instanceof ReferenceError && / is not defined$/.test(e.message)) {
    const first = `${e.name}: ${e.message}`
    const stack = e.stack // formatted now, with the original message
    e.message +=
      ' (in isolate(): the function runs in another process, where variables of the enclosing scope do not exist; pass them in `args`, import modules inside the function, or use the { module, export } form)'
    if (typeof stack === 'string' && stack.startsWith(first))
      e.stack = `${e.name}: ${e.message}${stack.slice(first.length)}`
  }
  return e
}

async function run(msg: RunMessage): Promise<void> {
  let target = msg.target
  try {
    target = msg.target
    const fn = await load(target)
    const value = await fn(deserialize(msg.args))
    let payload: Uint8Array
    try {
      payload = serialize(value)
    } catch {
      const { findUncloneable } = await errorsTransfer()
      const found = findUncloneable(value) ?? { path: 'value', kind: 'a value structured clone refuses' }
      reply({ t: 'uncloneable', ...found })
      return
    }
    reply({ t: 'value', payload })
  } catch (e) {
    replyThrown(explainClosure(e, target))
  }
}

// Anything thrown later from the function's callbacks (a server's 'error'
// event, a rejected promise nobody awaited) is the function's failure too.
process.on('uncaughtException', (e) => replyThrown(e))
process.on('unhandledRejection', (e) => replyThrown(e))
process.once('message', (msg: RunMessage) => {
  if (msg?.t === 'run') void run(msg)
})
// The host went away before sending work (its pool closed): nothing to do.
process.once('disconnect', () => {
  if (!replied) process.exit(0)
})
send({ t: 'ready' } satisfies ChildMessage)
