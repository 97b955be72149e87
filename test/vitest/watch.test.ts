/**
 * Watch mode (`vitest watch`, no CI): a change to a test file re-runs it, in
 * a new sandbox; stopping vitest leaves no sandbox process behind. Every wait
 * is for something vitest prints, bounded only by the test timeout.
 */
import { execFileSync } from 'node:child_process'
import { hostname } from 'node:os'
import { afterEach, expect, test } from 'vitest'
import { config, hostPidsWith, type Project, project, uniqueSleep, type WatchRun } from './helpers.ts'

let p: Project | undefined
let w: WatchRun | undefined
afterEach(async () => {
  if (w && w.child.exitCode === null && w.child.signalCode === null) {
    w.child.kill('SIGKILL')
    await w.exited
  }
  w = undefined
  p?.cleanup()
  p = undefined
})

const WAITING = 'Waiting for file changes'
const count = (text: string, what: string) => text.split(what).length - 1
/** Sandbox launchers started by the vitest with this pid (/proc/<pid>/cmdline separates arguments by NUL). */
const launchersOf = (pid: number) => hostPidsWith(`--parent-pid\u0000${pid}\u0000`)

function hostnames(output: string, round: number): string[] {
  return [...output.matchAll(new RegExp(`round ${round}: hostname (\\S+) pid (\\d+)`, 'g'))].map(
    (m) => `${m[1]} ${m[2]}`,
  )
}

test('a changed test file re-runs, isolated again; SIGTERM then leaves no sandbox process', async () => {
  const sleep = uniqueSleep()
  p = project('watch', { 'vitest.config.ts': config() })
  w = p.watch(['watched'], { NSV_SLEEP: sleep })
  const first = await w.until((o) => o.includes(WAITING))
  expect(first).toMatch(/✓ .*watched\.spec\.ts \(1 test\)/)
  expect(first).toMatch(/Tests +1 passed \(1\)/)
  const [one] = hostnames(first, 1)
  expect(one).toMatch(/ 2$/)

  p.write('watched.spec.ts', p.read('watched.spec.ts').replaceAll('round 1', 'round 2'))
  const second = await w.until((o) => count(o, WAITING) >= 2 && /round 2: hostname/.test(o))
  const rerun = second.slice(second.indexOf(WAITING))
  expect(rerun).toContain('RERUN')
  expect(rerun).toContain('stdout | watched.spec.ts > round 2 runs inside a sandbox')
  expect(rerun).toMatch(/✓ .*watched\.spec\.ts \(1 test\)/)
  expect(rerun).toMatch(/Tests +1 passed \(1\)/)
  expect(rerun).toContain('ns-isolated usage (1 sandboxed file)')
  const [two] = hostnames(second, 2)
  expect(two).toMatch(/ 2$/)
  // a new sandbox (new hostname), not the host's
  expect(two?.split(' ')[0]).not.toBe(one?.split(' ')[0])
  expect(two?.split(' ')[0]).not.toBe(hostname())

  const pid = w.child.pid as number
  w.child.kill('SIGTERM')
  const exit = await w.exited
  // Vitest's own SIGTERM handler: exit code 128 + 15
  expect(exit).toEqual({ code: 143, signal: null })
  expect(launchersOf(pid)).toEqual([])
  expect(hostPidsWith(sleep)).toEqual([])
})

test('SIGTERM during a run leaves no sandbox process', async () => {
  const sleep = uniqueSleep()
  p = project('watch', { 'vitest.config.ts': config() })
  w = p.watch(['hangs'], { NSV_SLEEP: sleep })
  await w.until((o) => o.includes('hanging now'))
  const pid = w.child.pid as number
  expect(launchersOf(pid).length).toBeGreaterThan(0)
  expect(hostPidsWith(sleep).length).toBe(1)
  w.child.kill('SIGTERM')
  await w.exited
  // the sandbox goes with the runner (its launcher watches the parent): poll, bounded by the test timeout
  while (launchersOf(pid).length > 0 || hostPidsWith(sleep).length > 0) await new Promise((r) => setTimeout(r, 50))
  expect(hostPidsWith(sleep)).toEqual([])
})

const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

test("'q' in a terminal quits watch mode with code 0 and no sandbox process left", async (ctx) => {
  if (!hasScript) ctx.skip('no `script` command (util-linux) to give Vitest a terminal')
  const sleep = uniqueSleep()
  p = project('watch', { 'vitest.config.ts': config() })
  // `script` gives vitest a terminal, so its keyboard shortcuts are on (they need a TTY stdin).
  w = p.watch(['watched'], { NSV_SLEEP: sleep }, { terminal: true })
  await w.until((o) => o.includes('press q to quit'))
  w.child.stdin?.write('q')
  const exit = await w.exited
  expect(exit).toEqual({ code: 0, signal: null })
  expect(w.output()).toMatch(/Tests +1 passed \(1\)/)
  expect(hostPidsWith(sleep)).toEqual([])
})
