// Watch mode: a changed file runs again, isolated, in a new sandbox; quitting
// (q) or stopping Jest (SIGTERM, even during a test) leaves no sandbox
// process behind. Jest runs without the CI variable, as on a developer's
// machine (with it, Jest is never interactive).
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { eventually, output, type Project, pidsWithEnv, project, runJestRaw, startJest } from './helpers.ts'

let p: Project | undefined
const started: number[] = []
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  p?.cleanup()
  p = undefined
})

const TIMEOUT = 120_000
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').replace(/\r/g, '')
const runsIn = (s: string) => plain(s).split('Ran all test suites').length - 1

/** Jest in watch mode in a terminal (script(1)), as a user runs it: Jest reads keys only when interactive. */
function interactiveJest(q: Project, args: string[], env: NodeJS.ProcessEnv) {
  const jest = join(q.dir, 'node_modules', 'jest', 'bin', 'jest.js')
  const { CI: _ci, ...rest } = process.env
  const child = spawn('script', ['-qfec', `'${process.execPath}' '${jest}' ${args.join(' ')}`, '/dev/null'], {
    cwd: q.dir,
    env: { ...rest, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  if (child.pid) started.push(child.pid)
  child.stdin.on('error', () => {}) // a key sent as it exits
  const r = { child, out: '', exited: new Promise<number | null>((resolve) => child.once('exit', resolve)) }
  child.stdout.on('data', (d) => {
    r.out += d
  })
  return r
}

describe('jest: watch mode', () => {
  it(
    "--watchAll: a changed file runs again in a new sandbox; 'q' quits and no sandbox is left",
    async () => {
      p = project('watch')
      const run = `watch-${uniqueSleep()}`
      const jest = interactiveJest(p, ['--watchAll', '--verbose', 'inside'], { NSISO_JEST_RUN: run })
      expect(await eventually(() => runsIn(jest.out) >= 1, 60_000), plain(jest.out)).toBe(true)
      expect(plain(jest.out)).toContain('✓ first run is isolated')
      p.write('inside.test.js', p.read('inside.test.js').replace("'first run is isolated'", "'second run is isolated'"))

      expect(await eventually(() => runsIn(jest.out) >= 2, 60_000), plain(jest.out)).toBe(true)
      const text = plain(jest.out)
      expect(text).toContain('✓ second run is isolated')
      expect(text).not.toContain('✕')
      const sandboxes = [...text.matchAll(/sandbox (ns-isolated-[0-9a-f]+)/g)].map((m) => m[1])
      expect(new Set(sandboxes).size, text).toBe(2)
      expect(text.split('ns-isolated usage').length - 1).toBe(2)

      jest.child.stdin.write('q')
      expect(await jest.exited).toBe(0)
      expect(await eventually(() => pidsWithEnv('NSISO_JEST_RUN', run).length === 0)).toBe(true)
    },
    TIMEOUT,
  )

  it(
    'SIGTERM to Jest during an isolated test: the sandbox and what the test started are gone; the next run sweeps /tmp',
    async () => {
      p = project('watch')
      const marker = uniqueSleep()
      const run = `watch-${marker}`
      const child = startJest(p, ['--watchAll', 'sleeps'], { SLEEP_MARKER: marker, NSISO_JEST_RUN: run })
      if (child.pid) started.push(child.pid)
      let err = ''
      child.stderr.on('data', (d) => {
        err += d
      })
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_, signal) => resolve(signal)))

      // the test is running: its child sleeps inside the sandbox
      expect(await eventually(() => pidsWithMarker(marker).length > 0, 60_000), err).toBe(true)
      expect(pidsWithEnv('NSISO_JEST_RUN', run).length).toBeGreaterThan(1)
      child.kill('SIGTERM')
      expect(await exited).toBe('SIGTERM')
      expect(await eventually(() => pidsWithEnv('NSISO_JEST_RUN', run).length === 0)).toBe(true)
      expect(pidsWithMarker(marker)).toEqual([])
      // a signal runs no exit handler: the run's status directory stays until the next run removes it
      const left = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`ns-isolated-jest-${child.pid}-`))
      expect(left().length).toBe(1)
      const next = await runJestRaw(p, ['inside'])
      expect(next.code, output(next)).toBe(0)
      expect(left()).toEqual([])
    },
    TIMEOUT,
  )

  it(
    'Enter during an isolated test aborts the run: its sandbox is gone, Jest keeps watching, q quits',
    async () => {
      p = project('watch')
      const marker = uniqueSleep()
      const run = `watch-${marker}`
      const jest = interactiveJest(p, ['--watchAll', 'sleeps'], { SLEEP_MARKER: marker, NSISO_JEST_RUN: run })
      let exited = false
      void jest.exited.then(() => {
        exited = true
      })
      expect(await eventually(() => pidsWithMarker(marker).length > 0, 60_000), plain(jest.out)).toBe(true)
      jest.child.stdin.write('\r')
      // the aborted run's sandbox is gone, with the child its test started, while Jest goes on watching
      expect(await eventually(() => pidsWithMarker(marker).length === 0, 60_000)).toBe(true)
      expect(exited).toBe(false)
      expect(pidsWithEnv('NSISO_JEST_RUN', run).length).toBeGreaterThan(0)
      // q quits once the aborted run has wound down (during a run, q only aborts it)
      expect(
        await eventually(() => {
          if (!exited) jest.child.stdin.write('q')
          return exited
        }, 60_000),
      ).toBe(true)
      expect(await jest.exited).toBe(0)
      expect(await eventually(() => pidsWithEnv('NSISO_JEST_RUN', run).length === 0)).toBe(true)
    },
    TIMEOUT,
  )
})
