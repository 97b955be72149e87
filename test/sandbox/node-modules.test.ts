// node_modules bound read-only from the host (option `nodeModules`, default
// 'read-only'): which directories, and what a test inside sees: reads work,
// a write fails with EROFS, a writable path inside keeps its write, and with
// 'overlay' writes vanish as anywhere else.
import { lchownSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeModulesDirs } from '../../dist/host/node-modules.js'
import { runScript, tempDir } from '../helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** base/app/node_modules/{pkg, @s/linked -> base/lib/node_modules/dep}, base/node_modules/up, base/app/src. */
function project(owner?: number): { base: string; app: string } {
  const dir = tempDir('nsiso-nm-')
  cleanups.push(dir.cleanup)
  const base = dir.path
  const app = join(base, 'app')
  for (const d of ['app/node_modules/pkg', 'app/node_modules/@s', 'app/src', 'lib/node_modules/dep', 'node_modules/up'])
    mkdirSync(join(base, d), { recursive: true })
  writeFileSync(join(app, 'node_modules/pkg/index.js'), 'module.exports = "pkg"\n')
  writeFileSync(join(base, 'lib/node_modules/dep/index.js'), 'module.exports = "dep"\n')
  writeFileSync(join(base, 'node_modules/up/index.js'), 'module.exports = "up"\n')
  symlinkSync(join(base, 'lib/node_modules/dep'), join(app, 'node_modules/@s/linked'))
  mkdirSync(join(app, 'node_modules/.cache'))
  // Owned by the user the sandbox runs as: a refused write is then EROFS, not EACCES (or, through a
  // user namespace's overlay, EOVERFLOW for a directory owned by an unmapped uid).
  if (owner !== undefined) chownTree(base, owner)
  return { base, app }
}

function chownTree(dir: string, uid: number): void {
  lchownSync(dir, uid, uid)
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) chownTree(p, uid)
    else lchownSync(p, uid, uid)
  }
}

describe('nodeModulesDirs', () => {
  it("finds node_modules from cwd up, and the node_modules that hold its links' targets, none inside another", () => {
    const { base, app } = project()
    expect(nodeModulesDirs(join(app, 'src'))).toEqual(
      [join(app, 'node_modules'), join(base, 'lib/node_modules'), join(base, 'node_modules')].sort(),
    )
    // The repository's own node_modules is found from a directory below it.
    expect(nodeModulesDirs(join(import.meta.dirname, '..'))).toContain(
      join(import.meta.dirname, '../..', 'node_modules'),
    )
  })
})

const INSIDE = `import { writeFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
const require = createRequire(process.cwd() + '/src/x.js')
const loaded = [require('pkg'), require('@s/linked'), require('up')]
const tryWrite = (p) => { try { writeFileSync(p, 'x'); return 'ok' } catch (e) { return e.code } }
const out = {
  loaded,
  pkg: tryWrite('node_modules/pkg/new.js'),
  linked: tryWrite('node_modules/@s/linked/new.js'),
  up: tryWrite('../node_modules/up/new.js'),
  cache: tryWrite('node_modules/.cache/kept.json'),
  src: tryWrite('src/new.js'),
}
console.log(JSON.stringify(out))`

/** Runs INSIDE in a sandbox working in `app` (as nobody, or as root): what it saw inside, and the sandbox's result. */
function runInside(
  app: string,
  options: Record<string, unknown>,
  asNobody: boolean,
): { inside: Record<string, unknown>; outside: { code: number; writes: string[] } } {
  writeFileSync(join(app, 'inside.mjs'), INSIDE)
  const r = runScript(
    `import { runSandbox } from '@dist/index.js'
const r = await runSandbox(process.execPath, ['inside.mjs'], { cwd: ${JSON.stringify(app)}, ...${JSON.stringify(options)}, stdio: ['ignore', 'inherit', 'inherit'] })
console.log(JSON.stringify({ code: r.code, writes: r.writes.map((w) => w.path) }))
`,
    { asNobody },
  )
  expect(r.stderr).toBe('')
  const [inside, outside] = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  return { inside, outside }
}

describe.each([
  ['root', false],
  ['an unprivileged user', true],
])('node_modules inside a sandbox (%s)', (_who, asNobody) => {
  it('is read-only by default: reads work, writes fail with EROFS, a writable path inside keeps its write', {
    tags: ['root'],
  }, () => {
    const { base, app } = project(asNobody ? 65534 : undefined)
    const { inside, outside } = runInside(app, { writable: ['node_modules/.cache'] }, asNobody)
    expect(inside).toEqual({
      loaded: ['pkg', 'dep', 'up'],
      pkg: 'EROFS',
      linked: 'EROFS',
      up: 'EROFS',
      cache: 'ok',
      src: 'ok',
    })
    expect(outside).toEqual({ code: 0, writes: [join(app, 'src/new.js')] })
    expect(readdirSync(join(app, 'node_modules/pkg'))).toEqual(['index.js'])
    expect(readdirSync(join(base, 'lib/node_modules/dep'))).toEqual(['index.js'])
    expect(readFileSync(join(app, 'node_modules/.cache/kept.json'), 'utf8')).toBe('x')
  })

  it("with nodeModules: 'overlay', writes there vanish like anywhere else", { tags: ['root'] }, () => {
    const { app } = project(asNobody ? 65534 : undefined)
    const { inside, outside } = runInside(app, { nodeModules: 'overlay' }, asNobody)
    expect(inside).toMatchObject({ loaded: ['pkg', 'dep', 'up'], pkg: 'ok', linked: 'ok', up: 'ok', src: 'ok' })
    expect(outside.code).toBe(0)
    expect(readdirSync(join(app, 'node_modules/pkg'))).toEqual(['index.js'])
  })
})
