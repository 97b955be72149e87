/**
 * Real `vitest run` on fixture projects: what a sandboxed test file sees
 * and leaves behind, proven from inside (hostname, its own files) and from
 * the host (/etc untouched, no leaked process alive).
 */
import { existsSync, readdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { afterEach, describe, expect, test } from 'vitest'
import { freePort } from '../helpers.ts'
import { config, hostPidsWith, type Project, project, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

describe('fixed ports', () => {
  test('two files listening on 127.0.0.1:3000 at once both pass in ns-isolated', async () => {
    p = project('ports', {
      'vitest.config.ts': config(
        "{ writable: ['shared'] }",
        "{ environment: 'ns-isolated', maxWorkers: 2, testTimeout: 20_000 }",
      ),
    })
    const r = await p.run()
    expect(r.output).toContain('2 passed')
    expect(r.code).toBe(0)
    expect(p.read('shared/a')).toBe('listening')
    expect(p.read('shared/b')).toBe('listening')
  })

  test('the same files collide with EADDRINUSE without the environment', async () => {
    p = project('ports', {
      'vitest.config.ts': config('{}', "{ environment: 'node', maxWorkers: 2, testTimeout: 20_000 }"),
    })
    // The host's network: 3000 may be another suite's on this machine.
    const r = await p.run([], { MEET_PORT: String(await freePort()) })
    expect(r.code).toBe(1)
    expect(r.output).toContain('EADDRINUSE')
    expect([p.read('shared/a'), p.read('shared/b')].sort()).toEqual(['failed', 'listening'])
  })
})

describe('what stays inside', () => {
  test('hostname, /etc writes and a leaked daemon stay inside and are reported', async () => {
    const marker = `${process.pid}-${Date.now()}`
    const sleep = uniqueSleep()
    p = project('isolation', {
      'vitest.config.ts': config("{ writable: ['out'], user: 'root', report: { json: 'report.json' } }"),
    })
    const r = await p.run([], { NSV_MARKER: marker, NSV_SLEEP: sleep })
    expect(r.output).toContain('3 passed')
    expect(r.code).toBe(0)

    // hostname: the sandbox's own
    const facts = JSON.parse(p.read('out/facts.json'))
    expect(facts.hostname).not.toBe(hostname())
    expect(facts.inside).toBe(facts.hostname)
    // the tracker's preload is not passed on to a node the test forks
    expect(facts.execArgv.filter((a: string) => a.includes('preload'))).toEqual([])
    expect(facts.env).not.toContain('NS_ISOLATED_VITEST_INDEX')
    // /etc: written inside, never on the host, and listed as a write
    expect(existsSync(`/etc/nsv-${marker}`)).toBe(false)
    const report = JSON.parse(p.read('report.json'))
    expect(report.version).toBe(1)
    const file = report.files[0]
    expect(file.file).toBe('facts.spec.ts')
    expect(file.writes).toContainEqual({ path: `/etc/nsv-${marker}`, kind: 'file' })
    // the daemon: killed with the sandbox, reported against the test that started it
    expect(hostPidsWith(sleep)).toEqual([])
    expect(file.leaked).toEqual([expect.objectContaining({ command: `sleep ${sleep}`, test: 'leaks a daemon' })])
    expect(r.output).toContain(`facts.spec.ts > leaks a daemon: pid`)
    expect(r.output).toContain(`sleep ${sleep}`)
    // figures per file and per test
    expect(file.wallMs).toBeGreaterThan(0)
    expect(file.cpuUserMs).toBeGreaterThan(0)
    expect(file.memoryPeakBytes).toBeGreaterThan(0)
    expect(file.tests.map((t: { name: string }) => t.name)).toEqual([
      'writes /etc',
      'leaks a daemon',
      'tells what it sees',
    ])
    expect(r.output).toContain('ns-isolated usage')
    expect(r.output).toContain('heaviest tests')
  })

  test("leaks: 'fail' fails the test that left a process running", async () => {
    const sleep = uniqueSleep()
    p = project('isolation', { 'vitest.config.ts': config("{ writable: ['out'], user: 'root', leaks: 'fail' }") })
    const r = await p.run([], { NSV_MARKER: `${process.pid}-fail`, NSV_SLEEP: sleep })
    expect(r.code).toBe(1)
    expect(r.output).toMatch(/FAIL .*facts\.spec\.ts > leaks a daemon/)
    expect(r.output).toContain(`this test left 1 process running: pid`)
    expect(r.output).toContain(`sleep ${sleep}`)
    expect(r.output).toContain('2 passed')
    expect(hostPidsWith(sleep)).toEqual([])
  })

  test("a custom runner that extends Vitest's TestRunner keeps the per-test tracker", async () => {
    const sleep = uniqueSleep()
    p = project('isolation', {
      'vitest.config.ts': config(
        "{ writable: ['out'], user: 'root', leaks: 'fail' }",
        "{ environment: 'ns-isolated', runner: './runner.ts' }",
      ),
      'runner.ts': `import { TestRunner } from 'vitest'
export default class extends TestRunner {
  override onBeforeRunFiles() {
    process.env.NSV_CUSTOM_RUNNER = 'yes'
  }
}
`,
    })
    const r = await p.run([], { NSV_MARKER: `${process.pid}-runner`, NSV_SLEEP: sleep })
    expect(r.code).toBe(1)
    expect(r.output).toMatch(/FAIL .*facts\.spec\.ts > leaks a daemon/)
    expect(r.output).toContain(`this test left 1 process running: pid`)
    expect(JSON.parse(p.read('out/facts.json')).runner).toBe('yes')
  })

  test("a process the test's afterEach or onTestFinished stops is not a leak, in either hook order; each retry is tracked", async () => {
    const sleep = uniqueSleep()
    const spec = `import { spawn } from 'node:child_process'
import { afterEach, expect, onTestFinished, test } from 'vitest'
const start = () => spawn('sleep', [process.env.NSV_SLEEP as string], { stdio: 'ignore' })
let child: ReturnType<typeof start> | undefined
afterEach(async () => {
  if (!child) return
  const c = child
  child = undefined
  const gone = new Promise((r) => c.once('exit', r))
  c.kill('SIGKILL')
  await gone
})
test('stopped in afterEach', () => {
  child = start()
})
test('stopped in onTestFinished', async () => {
  const c = start()
  onTestFinished(async () => {
    const gone = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await gone
  })
})
let attempt = 0
test('leaks on its first attempt only, passes on the retry', { retry: 1 }, () => {
  attempt++
  if (attempt === 1) {
    spawn('sleep', [process.env.NSV_SLEEP as string], { detached: true, stdio: 'ignore' }).unref()
    expect.unreachable('first attempt fails')
  }
})
`
    for (const hooks of ['stack', 'list']) {
      p = project(undefined, {
        'vitest.config.ts': config(
          "{ leaks: 'fail' }",
          `{ environment: 'ns-isolated', sequence: { hooks: '${hooks}' }, include: ['*.spec.ts'] }`,
        ),
        'stops.spec.ts': spec,
      })
      const r = await p.run(['--reporter=verbose'], { NSV_SLEEP: sleep })
      expect(r.output, hooks).toMatch(/✓ .*stops\.spec\.ts > stopped in afterEach/)
      expect(r.output, hooks).toMatch(/✓ .*stops\.spec\.ts > stopped in onTestFinished/)
      // The first attempt failed and left the sleep (named in its errors); the retry, which started
      // nothing, passed: the tracker measured each attempt on its own.
      expect(r.output, hooks).toMatch(/✓ .*stops\.spec\.ts > leaks on its first attempt only, passes on the retry/)
      expect(r.code, r.output).toBe(0)
      expect(hostPidsWith(sleep)).toEqual([])
      p.cleanup()
      p = undefined
    }
  })

  test('with isolate: false, a file after one whose setup file threw is still tracked', async () => {
    const sleep = uniqueSleep()
    const leaks = (name: string) => `import { spawn } from 'node:child_process'
import { test } from 'vitest'
test('${name} leaks', () => {
  spawn('sleep', [process.env.NSV_SLEEP as string], { detached: true, stdio: 'ignore' }).unref()
})
`
    p = project(undefined, {
      'vitest.config.ts': config(
        "{ leaks: 'fail' }",
        "{ environment: 'ns-isolated', isolate: false, maxWorkers: 1, setupFiles: ['./setup.ts'], include: ['*.spec.ts'] }",
      ),
      // Throws in the first file only: the sandbox (one for the batch) keeps /tmp between its files.
      'setup.ts': `import { existsSync, writeFileSync } from 'node:fs'
if (!existsSync('/tmp/nsv-setup-ran')) {
  writeFileSync('/tmp/nsv-setup-ran', '')
  throw new Error('setup failed on purpose')
}
`,
      'a.spec.ts': leaks('a'),
      'b.spec.ts': leaks('b'),
    })
    const r = await p.run([], { NSV_SLEEP: sleep })
    expect(r.code).toBe(1)
    expect(r.output).toContain('setup failed on purpose')
    expect(r.output).toMatch(/FAIL .*[ab]\.spec\.ts > [ab] leaks/)
    expect(r.output).toContain('this test left 1 process running: pid')
    expect(hostPidsWith(sleep)).toEqual([])
  })
})

describe('stopping', () => {
  test('a worker stops on the relayed SIGTERM, not the SIGKILL fallback', async () => {
    p = project('isolation', { 'vitest.config.ts': config("{ writable: ['out'], user: 'root' }") })
    const r = await p.run([], {
      NS_ISOLATED_VITEST_DEBUG: '1',
      NSV_MARKER: `${process.pid}-stop`,
      NSV_SLEEP: uniqueSleep(),
    })
    expect(r.code).toBe(0)
    const stops = r.stderr.split('\n').filter((l) => l.includes('stopped (worker'))
    expect(stops).toHaveLength(1)
    for (const line of stops) expect(line).toContain('signal SIGTERM')
  })
})

test('no sandbox cgroup of a finished run is left behind', { tags: ['root'] }, async () => {
  p = project('isolation', {
    'vitest.config.ts': config("{ writable: ['out'], user: 'root', memory: '512M', pids: 256 }"),
  })
  const r = await p.run([], { NSV_MARKER: `${process.pid}-cg`, NSV_SLEEP: uniqueSleep() })
  expect(r.code).toBe(0)
  // Sandbox cgroups are named after the runner's pid; the runner has exited.
  const parents = [
    '/sys/fs/cgroup/memory/ns-isolated',
    '/sys/fs/cgroup/pids/ns-isolated',
    '/sys/fs/cgroup/unified/ns-isolated',
    '/sys/fs/cgroup/ns-isolated',
  ]
  for (const dir of parents.filter((d) => existsSync(d))) {
    expect(readdirSync(dir).filter((n) => n.startsWith(`${r.pid}-`))).toEqual([])
  }
})
