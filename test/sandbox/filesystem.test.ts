// The copy-on-write root: writes anywhere vanish, are listed, and writable paths persist.
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runSandbox } from '../../dist/index.js'
import { root, runScript, tempDir } from '../helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

describe('filesystem (root)', { tags: ['root'] }, () => {
  it('a write to /etc and to the project tree is gone on the host, and listed', async () => {
    const mark = `nsiso-fs-${process.pid}-${Date.now()}`
    const project = join(root, 'test', `${mark}.txt`)
    const r = await runSandbox(
      '/bin/sh',
      ['-c', `echo 1 > /etc/${mark} && echo 2 > ${project} && rm -f /etc/hostname && cat /etc/${mark} ${project}`],
      {
        stdio: 'ignore',
      },
    )
    expect(r.code).toBe(0)
    expect(existsSync(`/etc/${mark}`)).toBe(false)
    expect(existsSync(project)).toBe(false)
    const paths = r.writes.map((w) => `${w.kind}:${w.path}`)
    expect(paths).toContain(`file:/etc/${mark}`)
    expect(paths).toContain(`file:${project}`)
    if (existsSync('/etc/hostname')) expect(paths).toContain('deleted:/etc/hostname')
  })

  it('a writable path keeps its write; the rest of the same tree does not', async () => {
    const dir = tempDir()
    cleanups.push(dir.cleanup)
    // the working directory is under /tmp here: it is carried into the fresh /tmp
    const keep = join(dir.path, 'snapshots')
    const r = await runSandbox(
      '/bin/sh',
      [
        '-c',
        'echo kept > snapshots/a.snap && echo lost > other.txt && mkdir -p snapshots/deep && echo x > snapshots/deep/b',
      ],
      {
        cwd: dir.path,
        writable: ['snapshots'],
        stdio: 'inherit',
      },
    )
    expect(r.code).toBe(0)
    expect(readFileSync(join(keep, 'a.snap'), 'utf8')).toBe('kept\n')
    expect(readFileSync(join(keep, 'deep/b'), 'utf8')).toBe('x\n')
    expect(existsSync(join(dir.path, 'other.txt'))).toBe(false)
    expect(r.writes.map((w) => w.path)).toEqual([join(dir.path, 'other.txt')])
  })

  it('gets a fresh /tmp: host files in /tmp are not there, files written there vanish', async () => {
    const dir = tempDir()
    cleanups.push(dir.cleanup)
    writeFileSync(join(dir.path, 'host-file'), 'x')
    const r = await runSandbox(
      '/bin/sh',
      ['-c', `test ! -e ${dir.path}/host-file && echo t > /tmp/inside-${process.pid} && ls /tmp | wc -l`],
      {
        cwd: '/',
        stdio: 'ignore',
      },
    )
    expect(r.code).toBe(0)
    expect(existsSync(`/tmp/inside-${process.pid}`)).toBe(false)
    expect(r.writes).toEqual([]) // /tmp is not reported
  })

  it('a writable file (not a directory) is bound too', async () => {
    const dir = tempDir()
    cleanups.push(dir.cleanup)
    const file = join(dir.path, 'state.json')
    writeFileSync(file, '{}')
    mkdirSync(join(dir.path, 'sub'))
    const r = await runSandbox('/bin/sh', ['-c', `echo '{"a":1}' > ${file}`], {
      writable: [file],
      cwd: '/',
      stdio: 'inherit',
    })
    expect(r.code).toBe(0)
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n')
  })
})

// V8 maps the ~2 MB of builtins near its code by mapping the binary's pages
// again, only when the file it opens has the st_dev and st_ino that
// /proc/self/maps shows; seen through the overlay they differ, and each Node
// copies the builtins into private memory instead. The sandbox binds the
// Node binary read-only from the host, so inside it maps them as on the host.
const MAPS = `const { readFileSync, realpathSync, statSync } = require('node:fs')
const exe = realpathSync(process.execPath)
const exec = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => / r-xp /.test(l)).map((l) => l.trim().split(/\\s+/))
const st = statSync(exe)
console.log(JSON.stringify({
  fromBinary: exec.filter((f) => f[5] === exe).length,
  anonymous: exec.filter((f) => f[5] === undefined).length,
  sameDevice: exec.filter((f) => f[5] === exe).every((f) => f[3] === (Math.floor(st.dev / 256)).toString(16).padStart(2, '0') + ':' + (st.dev % 256).toString(16).padStart(2, '0')),
}))`

describe.each([
  ['root', false],
  ['an unprivileged user', true],
])('the Node binary inside (%s)', (_who, asNobody) => {
  it("is the host's file: V8 maps its builtins from it as on the host, and it is read-only", { tags: ['root'] }, () => {
    const host = JSON.parse(spawnSync(process.execPath, ['-e', MAPS], { encoding: 'utf8' }).stdout)
    expect(host.fromBinary).toBeGreaterThan(3) // the binary's own segments, and the builtins again
    const r = runScript(
      `import { runSandbox } from '@dist/index.js'
const r = await runSandbox(process.execPath, ['-e', ${JSON.stringify(MAPS)}], { stdio: ['ignore', 'inherit', 'inherit'] })
const w = await runSandbox('/bin/sh', ['-c', '! (exec 3>>"$0") 2>/dev/null', process.execPath], { stdio: 'ignore' })
console.log(JSON.stringify({ code: r.code, writeCode: w.code }))
`,
      { asNobody },
    )
    expect(r.stderr).toBe('')
    const lines = r.stdout.trim().split('\n')
    expect(JSON.parse(lines[0] as string)).toEqual({ ...host, sameDevice: true })
    // Opening it for writing fails (read-only; busy while the host runs it), where the overlay would have copied it up.
    expect(JSON.parse(lines[1] as string)).toEqual({ code: 0, writeCode: 0 })
  })
})

describe('filesystem (unprivileged user)', () => {
  it("as uid 0 of its namespace (user: 'root'), writes to /etc and /usr vanish, a writable dir keeps its write", () => {
    const dir = tempDir()
    cleanups.push(dir.cleanup)
    const mark = `nsiso-rl-${process.pid}-${Date.now()}`
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const r = await runSandbox('/bin/sh', ['-c', 'echo 1 > /etc/${mark} && echo 2 > /usr/${mark} && echo kept > ${dir.path}/out/k'], { writable: ['${dir.path}/out'], stdio: 'inherit', user: 'root' })
      console.log(JSON.stringify(r))
      `,
      { asNobody: true },
    )
    const r = json as { code: number; strategy: string; writes: { path: string }[] }
    expect(r, stderr).toBeDefined()
    expect(r.strategy).toBe('rootless')
    expect(r.code).toBe(0)
    expect(existsSync(`/etc/${mark}`)).toBe(false)
    expect(existsSync(`/usr/${mark}`)).toBe(false)
    expect(readFileSync(join(dir.path, 'out/k'), 'utf8')).toBe('kept\n')
    expect(r.writes.map((w) => w.path).sort()).toEqual([`/etc/${mark}`, `/usr/${mark}`])
  })
})

describe('what lives under the host /tmp (the sandbox has a fresh one)', () => {
  it('a project there, its node_modules linked to elsewhere there, and a Node binary there still work inside', () => {
    const base = tempDir('nsiso-keep-')
    cleanups.push(base.cleanup)
    const proj = join(base.path, 'proj')
    const mods = join(base.path, 'mods')
    mkdirSync(join(mods, 'answer'), { recursive: true })
    writeFileSync(join(mods, 'answer', 'index.js'), 'module.exports = 42\n')
    mkdirSync(proj)
    writeFileSync(join(proj, 'package.json'), '{ "type": "commonjs" }\n')
    symlinkSync(mods, join(proj, 'node_modules')) // like a test fixture linking a workspace's modules
    writeFileSync(join(proj, 'main.js'), "process.stdout.write(String(require('answer')))\n")
    // The runner itself runs on a Node that lives under /tmp too.
    const nodeDir = join(base.path, 'node', 'bin')
    mkdirSync(nodeDir, { recursive: true })
    copyFileSync(process.execPath, join(nodeDir, 'node'))
    chmodSync(join(nodeDir, 'node'), 0o755)
    writeFileSync(
      join(base.path, 'runner.mjs'),
      `import { runSandbox } from '${join(root, 'dist', 'index.js')}'
const r = await runSandbox(process.execPath, ['main.js'], { cwd: '${proj}', stdio: ['ignore', 'inherit', 'inherit'] })
process.exitCode = r.code ?? 1
`,
    )
    const r = spawnSync(join(nodeDir, 'node'), [join(base.path, 'runner.mjs')], { encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('42')
    expect(r.status).toBe(0)
  })
})
