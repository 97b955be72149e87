// The copy-on-write root: writes anywhere vanish, are listed, and writable paths persist.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runSandbox } from '../../dist/index.js'
import { isRoot, root, runScript, tempDir } from '../helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

describe.runIf(isRoot)('filesystem (root)', () => {
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

describe('filesystem (unprivileged user)', () => {
  it('writes to /etc and /usr vanish, a writable dir keeps its write', () => {
    const dir = tempDir()
    cleanups.push(dir.cleanup)
    const mark = `nsiso-rl-${process.pid}-${Date.now()}`
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const r = await runSandbox('/bin/sh', ['-c', 'echo 1 > /etc/${mark} && echo 2 > /usr/${mark} && echo kept > ${dir.path}/out/k'], { writable: ['${dir.path}/out'], stdio: 'inherit' })
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
