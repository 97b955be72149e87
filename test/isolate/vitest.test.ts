// isolate() inside a real Vitest test, in a file that the Vitest front door
// already runs in a sandbox (environment: 'ns-isolated'): a nested sandbox,
// with values, errors and usage back, and nothing left behind.
import { afterEach, expect, test } from 'vitest'
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
  }, { args: { who: 'vitest' }, memory: '256M' })
  expect(value.text).toBe('hello vitest')
  expect(value.pid).toBe(2)
  expect(value.host).not.toBe(hostname())
  expect(existsSync('/etc/vitest-nested-was-here')).toBe(false)
  expect(usage.leaked.map((l) => l.command)).toEqual(['sleep ${marker}'])
  expect(usage.capsEnforced.memory).toBe(true)
  // The inner sandbox's cgroup sits under the outer file's sandbox cgroup.
  const mine = /^[0-9]+:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? ''
  const inner = /^[0-9]+:memory:(.*)$/m.exec(value.cgroup)?.[1] ?? ''
  expect(mine).toContain('/ns-isolated/')
  expect(inner.startsWith(mine + '/ns-isolated/')).toBe(true)

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
