// isolate() inside a real Jest test: a tiny fixture project in a temp dir, run with the real jest.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { pidsWithMarker, root, tempDir, uniqueSleep } from '../helpers.ts'

describe('inside Jest', () => {
  it('a Jest test (ESM, no transform) calls isolate and gets values, errors and usage back', () => {
    const dir = tempDir('nsiso-jest-')
    const marker = uniqueSleep()
    try {
      writeFileSync(
        join(dir.path, 'package.json'),
        JSON.stringify({ name: 'fixture', type: 'module', jest: { testEnvironment: 'node', transform: {} } }),
      )
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture's own template literal
      writeFileSync(join(dir.path, 'helper.mjs'), 'export const greet = (n) => `hello ${n}`\n')
      writeFileSync(
        join(dir.path, 'isolated.test.mjs'),
        `import { hostname } from 'node:os'
import { existsSync } from 'node:fs'
import { isolate, createIsolatePool } from '${root}/dist/isolate/isolate.js'

test('runs in a fresh sandbox, with imports from this file', async () => {
  const { value, usage } = await isolate(async ({ who }) => {
    const { greet } = await import('./helper.mjs')
    const fs = await import('node:fs')
    const os = await import('node:os')
    const { spawn } = await import('node:child_process')
    fs.writeFileSync('/etc/jest-was-here', 'x')
    const daemon = spawn('sleep', ['${marker}'], { stdio: 'ignore', detached: true }) // own session: a daemon
    await new Promise((r) => daemon.on('spawn', r))
    daemon.unref()
    return { text: greet(who), pid: process.pid, host: os.hostname() }
  }, { args: { who: 'jest' }, user: 'root' }) // root inside (rootless too): /etc is root's
  expect(value.text).toBe('hello jest')
  expect(value.pid).toBe(2)
  expect(value.host).not.toBe(hostname())
  expect(existsSync('/etc/jest-was-here')).toBe(false)
  expect(usage.leaked.map((l) => l.command)).toEqual(['sleep ${marker}'])
})

test('errors keep their class and properties; the pool works', async () => {
  const err = await isolate(() => { const e = new TypeError('nope'); e.code = 'E_NOPE'; throw e }).catch((e) => e)
  expect(err.name).toBe('TypeError')
  expect(err.message).toBe('nope')
  expect(err.code).toBe('E_NOPE')
  expect(err.stack).toContain('isolated.test.mjs')
  const pool = createIsolatePool({ size: 1 })
  try {
    expect((await pool.run((n) => n * 2, { args: 21 })).value).toBe(42)
  } finally {
    await pool.close()
  }
})
`,
      )
      const r = spawnSync(join(root, 'node_modules/.bin/jest'), ['--ci', '--colors=false'], {
        cwd: dir.path,
        encoding: 'utf8',
        timeout: 120_000,
        env: {
          ...process.env,
          NODE_OPTIONS: '--experimental-vm-modules --no-warnings',
          PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
        },
      })
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0)
      expect(r.stderr).toMatch(/Tests:\s+2 passed, 2 total/)
      expect(pidsWithMarker(marker)).toEqual([])
    } finally {
      dir.cleanup()
    }
  })
})
