/**
 * Host side: turning what the caller passed into something another process
 * can run. A closure cannot cross a process boundary, so a function travels
 * as its source text, compiled inside as if it were written in the caller's
 * file (its `import()`s resolve from there, its stack frames name it). The
 * caller's file comes from the `from` option or, by default, from the call
 * stack.
 */
import { readFileSync, statSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IsolateTarget } from './protocol.ts'
import type { IsolateModuleTarget } from './types.ts'

/** Where `isolate` was called from. */
export interface CallSite {
  /** Absolute path (or a non-file URL as is). */
  file: string
  line: number
  column: number
  /** The caller's stack lines (`    at …`), appended to errors from the sandbox. */
  frames: string
}

const FRAME = /\(?((?:file:\/\/|\/)[^()]*?):(\d+):(\d+)\)?$/

/**
 * The first stack frame above `skip`. Reads `Error.stack` (not raw call
 * sites) on purpose: test runners map it through their source maps, so a
 * TypeScript test file gets its own line numbers.
 */
export function captureCallSite(skip: (...a: never[]) => unknown): CallSite | undefined {
  const holder: { stack?: string } = {}
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 12
  Error.captureStackTrace(holder, skip)
  Error.stackTraceLimit = limit
  const lines = (holder.stack ?? '').split('\n').filter((l) => l.startsWith('    at '))
  for (const l of lines) {
    const m = FRAME.exec(l.trim())
    if (!m?.[1]) continue
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1]
    return { file, line: Number(m[2]), column: Number(m[3]), frames: lines.join('\n') }
  }
  return undefined
}

/** The `from` option as an absolute path. */
export function fromOption(from: string | URL): string {
  const s = String(from)
  if (s.startsWith('file:')) return fileURLToPath(s)
  return isAbsolute(s) ? s : resolve(s)
}

const sourceCache = new Map<string, { mtimeMs: number; text: string }>()
function readSource(file: string): string | undefined {
  try {
    const st = statSync(file)
    const hit = sourceCache.get(file)
    if (hit && hit.mtimeMs === st.mtimeMs) return hit.text
    const text = readFileSync(file, 'utf8')
    sourceCache.set(file, { mtimeMs: st.mtimeMs, text })
    return text
  } catch {
    return undefined
  }
}

/**
 * Where the function's text starts in the caller's file: exact when the
 * file holds the text as is (plain JavaScript), else the call site (the
 * source was transformed, e.g. TypeScript under Vitest: approximate).
 */
function locate(source: string, site: CallSite | undefined, file: string): { line: number; column: number } {
  const text = site && site.file === file ? readSource(file) : undefined
  if (text !== undefined) {
    let best: { line: number; column: number } | undefined
    for (let i = text.indexOf(source); i !== -1; i = text.indexOf(source, i + 1)) {
      const before = text.slice(0, i)
      const line = before.split('\n').length
      const pos = { line, column: i - before.lastIndexOf('\n') }
      if (!best || Math.abs(line - (site?.line ?? 0)) < Math.abs(best.line - (site?.line ?? 0))) best = pos
    }
    if (best) return best
  }
  return site && site.file === file ? { line: site.line, column: site.column } : { line: 1, column: 1 }
}

/** Vitest rewrites `import('./x')` in test files to a path relative to its root: the root, from Vitest's worker state. */
function viteRoot(): string {
  const worker = (globalThis as { __vitest_worker__?: { config?: { root?: unknown } } }).__vitest_worker__
  const root = worker?.config?.root
  return typeof root === 'string' ? root : process.cwd()
}

/** The sandbox-side description of what to run. Throws a TypeError for what cannot be sent. */
export function buildTarget(
  fn: ((args: never) => unknown) | IsolateModuleTarget,
  from: string | undefined,
  site: CallSite | undefined,
): IsolateTarget {
  // Without a known file, resolve from the working directory.
  const filename = from ?? site?.file ?? join(process.cwd(), '[isolate]')
  if (typeof fn === 'function') {
    const source = Function.prototype.toString.call(fn)
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new TypeError(
        'ns-isolated: isolate() got a native or bound function; only functions written in JavaScript can be sent (as source) to the sandbox.',
      )
    }
    if (/^class[\s{]/.test(source)) throw new TypeError('ns-isolated: isolate() got a class; pass a function.')
    const target: IsolateTarget = { kind: 'source', source, filename, ...locate(source, site, filename) }
    if (source.includes('__vite_ssr_dynamic_import__')) target.viteRoot = viteRoot()
    return target
  }
  if (typeof fn === 'object' && fn !== null && typeof fn.module === 'string' && fn.module !== '') {
    const exportName = fn.export ?? 'default'
    if (typeof exportName !== 'string' || exportName === '') {
      throw new TypeError(
        `ns-isolated: \`export\` must be a non-empty string naming the module's export; got ${typeof exportName}.`,
      )
    }
    for (const key of Object.keys(fn)) {
      if (key !== 'module' && key !== 'export') {
        throw new TypeError(
          `ns-isolated: unknown key \`${key}\` in the module target; it takes \`module\` and \`export\`.`,
        )
      }
    }
    return { kind: 'module', specifier: fn.module, exportName, filename }
  }
  throw new TypeError(
    "ns-isolated: isolate() takes a function, or { module: './file.js', export: 'name' }; got " +
      (fn === null ? 'null' : typeof fn) +
      '.',
  )
}
