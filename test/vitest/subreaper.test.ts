/**
 * fallback: 'subreaper' where the host refuses namespaces, for real: Vitest
 * runs under a seccomp filter that does to namespaces what Docker's default
 * profile does (test/sandbox/fixtures/syscall-probe.c). Every file then runs
 * without namespaces, the launcher its subreaper: the run passes, a leaked
 * daemon is reported against its test (the tracker reads the host's /proc,
 * where the file's processes are the launcher's tree) and killed, the usage
 * table is there, and every file is marked "no namespaces (seccomp)", in the
 * table and the JSON. A SIGKILLed Vitest takes the tree along.
 */
import { existsSync } from 'node:fs'
import { afterEach, expect, test } from 'vitest'
import { pidsWithMarker, waitFor } from '../helpers.ts'
import { probeDir } from '../sandbox/probes.ts'
import { config, hostPidsWith, type Project, project, uniqueSleep } from './helpers.ts'

const underDockerSeccomp = [probeDir('nsv-subreaper-').probe, 'docker-seccomp']

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

const leaks = (sleep: string) => `import { spawn } from 'node:child_process'
import { test } from 'vitest'
test('starts a server', () => {})
test('leaks a daemon', () => {
  spawn('sleep', ['${sleep}'], { detached: true, stdio: 'ignore' }).unref()
})
test('after it', () => {})
`

test('the run passes without namespaces: the daemon is reported under its test, every file says what was missing', async () => {
  const sleep = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config("{ fallback: 'subreaper', memory: '512M', report: { json: 'r.json' } }"),
    'leaks.spec.ts': leaks(sleep),
    'plain.spec.ts': `import { expect, test } from 'vitest'
test('runs on the host', () => { expect(process.env.NS_ISOLATED_INSIDE).toBeUndefined() })
`,
  })
  const r = await p.run([], {}, { prefix: underDockerSeccomp })
  expect(r.code, r.output).toBe(0)
  expect(r.output).toContain('4 passed')
  // Said once, at the first refusal: the code, and what still holds.
  expect(r.output.match(/this host refuses namespaces \(ENS_SECCOMP_DENIED\)/g)).toHaveLength(1)
  expect(r.output).toContain('ns-isolated usage (0 sandboxed files, 2 without namespaces)')
  for (const file of ['leaks.spec.ts', 'plain.spec.ts']) {
    expect(r.output).toMatch(new RegExp(`│ ${file.replace('.', '\\.')} +│.*\\n│ no namespaces \\(seccomp\\) +│`))
  }
  expect(r.output).toMatch(new RegExp(`leaks\\.spec\\.ts > leaks a daemon: pid \\d+ \`sleep ${sleep}\``))
  const report = JSON.parse(p.read('r.json'))
  expect(report.files).toHaveLength(2)
  for (const f of report.files) {
    expect(f.missingIsolation).toEqual({ missing: 'namespaces', why: 'seccomp', code: 'ENS_SECCOMP_DENIED' })
    // Figures and caps from the sandbox's cgroup, as with namespaces (where the host has one).
    expect(f.cpuUserMs).toBeGreaterThan(0)
    expect(f.tests.map((t: { cpuMs: number | null }) => t.cpuMs)).not.toContain(null)
  }
  const leaky = report.files.find((f: { file: string }) => f.file === 'leaks.spec.ts')
  expect(leaky.leaked).toEqual([{ pid: expect.any(Number), command: `sleep ${sleep}`, test: 'leaks a daemon' }])
  expect(leaky.tests.map((t: { name: string; pidsStarted: number }) => [t.name, t.pidsStarted])).toEqual([
    ['starts a server', 0],
    ['leaks a daemon', 1],
    ['after it', 0],
  ])
  expect(hostPidsWith(sleep)).toEqual([])
})

test('without the fallback the same host fails the file and names the fix', async () => {
  p = project(undefined, {
    'vitest.config.ts': config(),
    'plain.spec.ts': `import { test } from 'vitest'\ntest('x', () => {})\n`,
  })
  const r = await p.run([], {}, { prefix: underDockerSeccomp })
  expect(r.code).toBe(1)
  expect(r.output).toContain('ENS_SECCOMP_DENIED')
  expect(r.output).toContain("fallback: 'subreaper'")
})

test('SIGKILL of the Vitest process kills the tree: the worker, the launcher and the daemon', async () => {
  const sleep = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config("{ fallback: 'subreaper' }", "{ environment: 'ns-isolated', testTimeout: 600_000 }"),
    'hangs.spec.ts': `import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { test } from 'vitest'
test('leaks a daemon, then waits forever', async () => {
  const child = spawn('sleep', ['${sleep}'], { detached: true, stdio: 'ignore' })
  child.unref()
  writeFileSync('ready', String(process.pid))
  await new Promise(() => {})
})
`,
  })
  let vitestPid: number | undefined
  const run = p.run([], {}, { prefix: underDockerSeccomp, onSpawn: (pid) => (vitestPid = pid) })
  // The probe execs Vitest: its pid is the runner's.
  expect(await waitFor(() => p?.exists('ready') ?? false, 120_000)).toBe(true)
  const worker = `/proc/${p.read('ready')}`
  expect(existsSync(worker)).toBe(true)
  expect(hostPidsWith(sleep)).toHaveLength(1)
  // The launcher's command line names the runner it dies with (arguments NUL-separated).
  const launcher = `--parent-pid\0${vitestPid}\0`
  expect(pidsWithMarker(launcher).length).toBeGreaterThan(0)
  process.kill(vitestPid as number, 'SIGKILL')
  const r = await run
  expect(r.signal).toBe('SIGKILL')
  expect(
    await waitFor(
      () => hostPidsWith(sleep).length === 0 && pidsWithMarker(launcher).length === 0 && !existsSync(worker),
      60_000,
    ),
  ).toBe(true)
})
