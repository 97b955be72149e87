// The generated Jest projects bench/jest.mjs runs, shaped like suites users
// have (see issues 20 and 24):
//   ts     a TypeScript monorepo: two Jest projects, each with its own
//          tsconfig, ts-jest with `diagnostics: true` (type-checked), 30 test
//          files over typed modules, an HTTP server in a third of them
//   app    a small app's suite: 8 files, 45 tests, each file starting HTTP
//          servers and a child process
//   small  40 tiny CommonJS files (babel-jest): the per-file overhead alone
// Each returns its Jest configs: `stock` (as a user runs Jest), `default`
// (the documented one-line setup), `fresh` and `reuse` (the modes), and
// `stock-fresh` (stock with a new worker per file, an explanation).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

function write(dir, path, text) {
  const full = join(dir, path)
  mkdirSync(dirname(full), { recursive: true })
  writeFileSync(full, text)
}

const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    module: 'commonjs',
    moduleResolution: 'node',
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
  },
  include: ['src', 'test'],
}

/** A typed module: a generic store, a parser, a class hierarchy, so type-checking has work to do. */
function tsModule(i) {
  return `export interface Item${i} { id: number; name: string; tags: readonly string[]; meta?: Record<string, unknown> }
export type Result${i}<T> = { ok: true; value: T } | { ok: false; error: string }

export class Store${i}<T extends { id: number }> {
  private readonly items = new Map<number, T>()
  add(item: T): this {
    this.items.set(item.id, item)
    return this
  }
  get(id: number): Result${i}<T> {
    const v = this.items.get(id)
    return v ? { ok: true, value: v } : { ok: false, error: \`no item \${id}\` }
  }
  filter(pred: (t: T) => boolean): T[] {
    return [...this.items.values()].filter(pred)
  }
  get size(): number {
    return this.items.size
  }
}

export function parse${i}(text: string): Result${i}<Item${i}> {
  const [id, name, ...tags] = text.split(',').map((s) => s.trim())
  const n = Number(id)
  if (!Number.isInteger(n) || !name) return { ok: false, error: \`bad line: \${text}\` }
  return { ok: true, value: { id: n, name, tags } }
}

export abstract class Shape${i} {
  abstract area(): number
  describe(): string {
    return \`\${this.constructor.name} of area \${this.area().toFixed(2)}\`
  }
}
export class Rect${i} extends Shape${i} {
  constructor(readonly w: number, readonly h: number) {
    super()
  }
  area(): number {
    return this.w * this.h
  }
}
export const total${i} = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, ${i})
`
}

function tsServer() {
  return `import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export async function start(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: \`http://127.0.0.1:\${port}\`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  }
}
`
}

function tsTest(project, i, modules, withServer) {
  const m = modules.map(
    (k) => `import { Store${k}, parse${k}, Rect${k}, total${k}, type Item${k} } from '../src/m${k}'`,
  )
  const blocks = modules.map(
    (k) => `
  test('store ${k}', () => {
    const s = new Store${k}<Item${k}>()
    s.add({ id: 1, name: 'a', tags: ['x'] }).add({ id: 2, name: 'b', tags: [] })
    expect(s.size).toBe(2)
    const r = s.get(1)
    expect(r.ok && r.value.name).toBe('a')
    expect(s.filter((x) => x.tags.length > 0).map((x) => x.id)).toEqual([1])
  })
  test('parse ${k}', () => {
    const r = parse${k}('${i}, item, red, blue')
    expect(r).toEqual({ ok: true, value: { id: ${i}, name: 'item', tags: ['red', 'blue'] } })
    expect(parse${k}('x').ok).toBe(false)
  })
  test('shapes ${k}', () => {
    expect(new Rect${k}(2, 3).describe()).toBe('Rect${k} of area 6.00')
    expect(total${k}([1, 2, 3])).toBe(${k + 6})
  })`,
  )
  const server = withServer
    ? `
  test('serves JSON over HTTP', async () => {
    const s = await start((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ path: req.url, n: ${i} }))
    })
    try {
      const body = (await (await fetch(\`\${s.url}/x/${i}\`)).json()) as { path: string; n: number }
      expect(body).toEqual({ path: '/x/${i}', n: ${i} })
    } finally {
      await s.close()
    }
  })`
    : ''
  return `import { describe, expect, test } from '@jest/globals'
${m.join('\n')}
${withServer ? "import { start } from '../src/server'\n" : ''}
describe('${project} ${i}', () => {${blocks.join('\n')}${server}
})
`
}

/** The TypeScript monorepo (see the module's comment). */
export function tsSuite(dir, { files = 30 } = {}) {
  const projects = ['core', 'api']
  const perProject = Math.ceil(files / projects.length)
  let n = 0
  for (const project of projects) {
    const root = join(dir, 'packages', project)
    write(root, 'tsconfig.json', `${JSON.stringify(TSCONFIG, null, 2)}\n`)
    for (let k = 0; k < 8; k++) write(root, `src/m${k}.ts`, tsModule(k))
    write(root, 'src/server.ts', tsServer())
    for (let i = 0; i < perProject && n < files; i++, n++) {
      const modules = [i % 8, (i + 3) % 8]
      write(root, `test/t${String(i).padStart(2, '0')}.test.ts`, tsTest(project, i, modules, i % 3 === 0))
    }
  }
  const project = (name) => ({
    displayName: name,
    rootDir: join(dir, 'packages', name),
    testEnvironment: 'node',
    transform: {
      '^.+\\.ts$': ['ts-jest', { tsconfig: join(dir, 'packages', name, 'tsconfig.json'), diagnostics: true }],
    },
  })
  const base = { rootDir: dir, projects: projects.map(project) }
  return {
    configs: {
      stock: `module.exports = ${JSON.stringify(base)}\n`,
      'stock-fresh': `module.exports = ${JSON.stringify({ ...base, workerIdleMemoryLimit: 0 })}\n`,
      ...isolatedConfigs(base, 'withNsIsolated'),
    },
  }
}

/** The app's suite (see the module's comment): 8 files, 45 tests. */
export function appSuite(dir) {
  write(
    dir,
    'src/app.js',
    `const { createServer } = require('node:http')
const { execFile } = require('node:child_process')

/** A tiny API: /health, /echo, /version (from a child process), /proxy?to= (an upstream fetch). */
function createApp() {
  return createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x')
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (url.pathname === '/health') return send(200, { ok: true })
    if (url.pathname === '/echo') return send(200, { q: Object.fromEntries(url.searchParams) })
    if (url.pathname === '/version')
      return execFile(process.execPath, ['-p', 'process.versions.node'], (e, out) =>
        e ? send(500, { error: e.message }) : send(200, { node: out.trim() }),
      )
    if (url.pathname === '/proxy') {
      try {
        const r = await fetch(url.searchParams.get('to'))
        return send(r.status, { upstream: await r.text() })
      } catch (e) {
        return send(502, { error: e.cause?.code ?? e.message })
      }
    }
    send(404, { error: 'not found' })
  })
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(\`http://127.0.0.1:\${server.address().port}\`)))
}

module.exports = { createApp, listen }
`,
  )
  let tests = 0
  for (let f = 0; f < 8; f++) {
    const count = f < 5 ? 6 : 5 // 5 × 6 + 3 × 5 = 45
    const cases = []
    for (let t = 0; t < count; t++) {
      const kind = t % 4
      cases.push(
        kind === 0
          ? `  test('health ${t}', async () => expect(await (await fetch(\`\${base}/health\`)).json()).toEqual({ ok: true }))`
          : kind === 1
            ? `  test('echo ${t}', async () => expect(await (await fetch(\`\${base}/echo?a=${f}&b=${t}\`)).json()).toEqual({ q: { a: '${f}', b: '${t}' } }))`
            : kind === 2
              ? `  test('proxies to the upstream ${t}', async () => {
    const r = await fetch(\`\${base}/proxy?to=\${encodeURIComponent(upstream + '/health')}\`)
    expect(r.status).toBe(200)
  })`
              : `  test('not found ${t}', async () => expect((await fetch(\`\${base}/nope\`)).status).toBe(404))`,
      )
      tests++
    }
    write(
      dir,
      `test/app-${f}.test.js`,
      `const { createApp, listen } = require('../src/app')

let app
let up
let base
let upstream
beforeAll(async () => {
  app = createApp()
  up = createApp()
  base = await listen(app)
  upstream = await listen(up)
})
afterAll(() => Promise.all([app, up].map((s) => new Promise((r) => s.close(r)))))

test('reports the Node version from a child process', async () => {
  const body = await (await fetch(\`\${base}/version\`)).json()
  expect(body.node).toBe(process.versions.node)
})
${cases.slice(1).join('\n')}
`,
    )
  }
  const base = { rootDir: dir, testEnvironment: 'node' }
  return {
    tests,
    configs: {
      stock: `module.exports = ${JSON.stringify(base)}\n`,
      'stock-fresh': `module.exports = ${JSON.stringify({ ...base, workerIdleMemoryLimit: 0 })}\n`,
      ...isolatedConfigs(base, 'preset'),
    },
  }
}

/** The per-file overhead alone: tiny CommonJS files through babel-jest. */
export function smallSuite(dir, { files = 40 } = {}) {
  write(dir, 'sum.js', 'module.exports = (a, b) => a + b\n')
  for (let i = 0; i < files; i++) {
    write(
      dir,
      `tests/t${String(i).padStart(2, '0')}.test.js`,
      `const sum = require('../sum')
describe('file ${i}', () => {
  test('adds', () => expect(sum(${i}, 1)).toBe(${i + 1}))
  test('maps', () => expect([1, 2, 3].map((x) => x * ${i})).toEqual([${i}, ${2 * i}, ${3 * i}]))
  test('objects', () => expect({ i: ${i}, s: 'x'.repeat(${i % 7}) }).toMatchObject({ i: ${i} }))
})
`,
    )
  }
  const base = { rootDir: dir, testEnvironment: 'node' }
  return {
    configs: {
      stock: `module.exports = ${JSON.stringify(base)}\n`,
      'stock-fresh': `module.exports = ${JSON.stringify({ ...base, workerIdleMemoryLimit: 0 })}\n`,
      ...isolatedConfigs(base, 'preset'),
    },
  }
}

/**
 * The isolated configs of a stock config, set up as the docs say: the preset
 * (one line), or `withNsIsolated` for a config with a transform of its own.
 * `default` sets no mode.
 */
function isolatedConfigs(base, how) {
  const out = {}
  for (const [name, extra] of [
    ['default', {}],
    ['fresh', { isolation: 'fresh' }],
    ['reuse', { isolation: 'reuse' }],
  ]) {
    const options = { report: false, ...extra }
    out[name] =
      how === 'preset'
        ? `module.exports = ${JSON.stringify({ ...base, preset: 'jest-environment-ns-isolated', testEnvironmentOptions: options })}\n`
        : `const { withNsIsolated } = require('jest-environment-ns-isolated/config')
module.exports = withNsIsolated(${JSON.stringify(base)}, ${JSON.stringify(options)})\n`
  }
  return out
}
