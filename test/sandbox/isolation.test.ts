// Isolation claims, proven from inside real sandboxes, as root and as nobody.
import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { runSandbox } from '../../dist/index.js'
import { runScript } from '../helpers.ts'

const PROBE = `
echo "pid=$$"
echo "procs=$(ls /proc | grep -c '^[0-9]')"
echo "host=$(hostname)"
echo "nets=$(ls /sys/class/net | tr '\\n' ,)"
if hostname changed-inside 2>/dev/null; then echo "renamed=$(hostname)"; else echo "renamed=refused"; fi
`

function parse(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  )
}

async function probe(options: Record<string, unknown> = {}) {
  const sandbox = await import('../../dist/index.js')
  const s = sandbox.spawnSandbox('/bin/sh', ['-c', PROBE], { stdio: ['ignore', 'pipe', 'inherit'], ...options })
  let out = ''
  s.child.stdout?.on('data', (d) => {
    out += d
  })
  const r = await s.result
  return { r, v: parse(out) }
}

describe('as root', { tags: ['root'] }, () => {
  it('runs the command as pid 2 under the launcher (pid 1), and /proc lists only the sandbox', async () => {
    const { r, v } = await probe()
    expect(r.code).toBe(0)
    expect(r.strategy).toBe('root')
    expect(v.pid).toBe('2')
    // launcher (1), sh (2), and the ls/grep pipeline's processes
    expect(Number(v.procs)).toBeLessThanOrEqual(5)
  })

  it('has its own hostname, which only a sandbox granted CAP_SYS_ADMIN may change; the host keeps its own', async () => {
    const before = hostname()
    const { v } = await probe({ hostname: 'box-one' })
    expect(v.host).toBe('box-one')
    expect(v.renamed).toBe('refused') // as in a container: sethostname needs CAP_SYS_ADMIN
    const granted = await probe({ hostname: 'box-two', capabilities: ['SYS_ADMIN'] })
    expect(granted.v.renamed).toBe('changed-inside')
    expect(hostname()).toBe(before)
  })

  it('sees only lo (and lo is up), unless network is host', async () => {
    const { v } = await probe()
    expect(v.nets).toBe('lo,')
    const host = await probe({ network: 'host' })
    expect(host.v.nets?.split(',').filter(Boolean).length).toBeGreaterThan(1)
  })

  it("network 'none' leaves lo down: connecting to 127.0.0.1 fails", async () => {
    const r = await runSandbox(
      process.execPath,
      [
        '-e',
        "require('net').connect(1, '127.0.0.1').on('error', (e) => { console.log(e.code); process.exit(e.code === 'ENETUNREACH' ? 0 : 1) })",
      ],
      { network: 'none', stdio: 'ignore' },
    )
    expect(r.code).toBe(0)
  })
})

describe('as an unprivileged user (user namespace)', () => {
  it('gets pid 2, only the sandbox in /proc, own hostname, only lo', () => {
    const { json, stderr } = runScript(
      `
      import { spawnSandbox } from '@dist/index.js'
      const s = spawnSandbox('/bin/sh', ['-c', ${JSON.stringify(PROBE)}], { stdio: ['ignore', 'pipe', 'inherit'], hostname: 'rootless-box' })
      let out = ''; s.child.stdout.on('data', (d) => out += d)
      const r = await s.result
      console.log(JSON.stringify({ strategy: r.strategy, code: r.code, out }))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toBeDefined()
    const j = json as { strategy: string; code: number; out: string }
    const v = parse(j.out)
    expect(j.strategy).toBe('rootless')
    expect(j.code).toBe(0)
    expect(v.pid).toBe('2')
    expect(Number(v.procs)).toBeLessThanOrEqual(5)
    expect(v.host).toBe('rootless-box')
    expect(v.renamed).toBe('refused') // it runs as nobody, as on the host
    expect(v.nets).toBe('lo,')
  })
})
