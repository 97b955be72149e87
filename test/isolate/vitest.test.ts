// isolate() inside a real Vitest test, in a file that the Vitest front door
// already runs in a sandbox (environment: 'ns-isolated'): a nested sandbox,
// with values, errors and usage back, and nothing left behind.
import { afterEach, expect, test } from 'vitest'
import { delegableCgroups } from '../helpers.ts'
import { config, hostPidsWith, type Project, project, uniqueSleep } from '../vitest/helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('a test in an isolated Vitest file calls isolate and gets a nested sandbox, values, errors and usage', {
  tags: ['root'],
}, async () => {
  const marker = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config(),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture's own template literal
    'helper.ts': 'export const greet = (n: string): string => `hello ${n}`\n',
    'nested.spec.ts': `import { hostname } from 'node:os'
import { existsSync, readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { isolate } from 'ns-isolated'

test('isolate inside an isolated file', async () => {
  expect(process.pid).toBe(2) // the file itself is sandboxed: its worker is pid 2 under the launcher
  const { value, usage } = await isolate(async ({ who }: { who: string }) => {
    const { greet } = await import('./helper.ts')
    const fs = await import('node:fs')
    const os = await import('node:os')
    const { spawn } = await import('node:child_process')
    fs.writeFileSync('/etc/vitest-nested-was-here', 'x')
    const daemon = spawn('sleep', ['${marker}'], { stdio: 'ignore', detached: true })
    await new Promise((r) => daemon.on('spawn', r))
    daemon.unref()
    return { text: greet(who), pid: process.pid, host: os.hostname(), cgroup: fs.readFileSync('/proc/self/cgroup', 'utf8') }
  }, { args: { who: 'vitest' }, memory: '256M', unenforceable: ${delegableCgroups ? "'error'" : "'warn'"} })
  expect(value.text).toBe('hello vitest')
  expect(value.pid).toBe(2)
  expect(value.host).not.toBe(hostname())
  expect(existsSync('/etc/vitest-nested-was-here')).toBe(false)
  expect(usage.leaked.map((l) => l.command)).toEqual(['sleep ${marker}'])
  if (${delegableCgroups}) {
    // v2 with nsdelegate: the inner sandbox's cgroup sits under the outer file's, capped.
    expect(usage.capsEnforced.memory).toBe(true)
  } else {
    // v1/hybrid: the outer sandbox sees the host's cgroupfs read-only, so the
    // inner one runs under the outer's cgroup (its caps hold), without its own.
    expect(usage.capsEnforced.memory).toBe(false)
    expect(value.cgroup).toBe(readFileSync('/proc/self/cgroup', 'utf8'))
    const strict = await isolate(() => 1, { memory: '256M' }).catch((e: { code: string }) => e.code)
    expect(strict).toBe('ENS_CGROUP_READONLY')
  }

  const err = await isolate(() => {
    throw Object.assign(new RangeError('nope'), { code: 'E_NOPE' })
  }).catch((e: unknown) => e as RangeError & { code: string })
  expect(err.name).toBe('RangeError')
  expect(err.code).toBe('E_NOPE')
})
`,
  })
  const r = await p.run()
  expect(r.output).toContain('1 passed')
  expect(r.code, r.output).toBe(0)
  expect(hostPidsWith(marker)).toEqual([])
})
