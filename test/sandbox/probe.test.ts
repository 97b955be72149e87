// Per-test figures from inside a sandbox: CPU delta, tasks started, processes left running.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { dist, runScript } from '../helpers.ts'

const WORK = `
import { diffSamples, sampleSandbox, insideSandbox } from '${dist('sandbox/probe.js')}'
import { spawn, execFileSync } from 'node:child_process'
const a = sampleSandbox()
const c0 = process.cpuUsage(); let x = 0  // 300 ms of CPU, however loaded the host
while (process.cpuUsage(c0).user < 300_000) for (let i = 0; i < 1e5; i++) x += i
for (let i = 0; i < 3; i++) execFileSync('/bin/true')             // 3 short-lived processes
const left = spawn('/bin/sleep', ['1000'], { stdio: 'ignore', detached: true })  // 1 left running
await new Promise((r) => left.once('spawn', r))  // exec'd: its command line is sleep's
left.unref()
const d = diffSamples(a, sampleSandbox())
console.log(JSON.stringify({ inside: insideSandbox(), cpuMs: d.cpuMs, started: d.started, leaked: d.leaked }))
process.exit(0)
`

function check(out: string) {
  const j = JSON.parse(out.trim().split('\n').pop() as string)
  expect(j.inside).toBe(true)
  expect(j.cpuMs).toBeGreaterThan(250)
  expect(j.cpuMs).toBeLessThan(1000)
  expect(j.started).toBeGreaterThanOrEqual(4)
  expect(j.leaked).toEqual([{ pid: expect.any(Number), command: '/bin/sleep 1000' }])
}

describe('sandbox probe (ns-isolated/sandbox)', () => {
  it('measures a unit of work inside a sandbox', async () => {
    const { spawnSandbox } = await import('../../dist/index.js')
    const s = spawnSandbox(process.execPath, ['--input-type=module', '-e', WORK], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    s.child.stdout?.on('data', (d) => {
      out += d
    })
    const r = await s.result
    expect(r.code).toBe(0)
    check(out)
    expect(r.leaked.map((l) => l.command)).toEqual(['/bin/sleep 1000'])
  })

  it('works rootless too (no cgroup: CPU from /proc)', () => {
    const { json, stderr } = runScript(
      `
      import { spawnSandbox } from '@dist/index.js'
      const s = spawnSandbox(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(WORK)}], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''; s.child.stdout.on('data', (d) => out += d)
      await s.result
      console.log(JSON.stringify(out))
      `,
      { asNobody: true },
    )
    expect(typeof json, stderr).toBe('string')
    check(json as string)
  })

  it('is not inside outside a sandbox', () => {
    const env = { ...process.env }
    delete env.NS_ISOLATED_INSIDE
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { insideSandbox } from '${dist('sandbox/probe.js')}'; console.log(insideSandbox())`,
      ],
      { env, encoding: 'utf8' },
    )
    expect(r.stdout.trim(), r.stderr).toBe('false')
  })
})
