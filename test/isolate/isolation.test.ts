// The function runs in its own namespaces: fixed ports do not collide, /etc writes vanish, leaks are reported.
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { isolate } from '../../dist/isolate/isolate.js'
import { pidsWithMarker, tempDir, uniqueSleep } from '../helpers.ts'

// Listens on the port, says so in the rendezvous directory (a writable host path, the one place both
// sandboxes share), and fetches from itself once the other has said the same: both listened at once.
const serveAndMeet = async ({ port, me, other, dir }: { port: number; me: string; other: string; dir: string }) => {
  const http = await import('node:http')
  const fs = await import('node:fs')
  const server = http.createServer((_req, res) => res.end(me))
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()))
  fs.writeFileSync(`${dir}/${me}`, 'listening')
  while (!fs.existsSync(`${dir}/${other}`)) await new Promise((r) => setTimeout(r, 10))
  const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())
  server.close()
  return body
}

describe('isolation', () => {
  it('two concurrent calls listen on the same port 3000 at the same time and both succeed', async () => {
    const dir = tempDir('nsiso-rdv-')
    try {
      const call = (me: string, other: string) =>
        isolate(serveAndMeet, { args: { port: 3000, me, other, dir: dir.path }, writable: [dir.path] })
      const [a, b] = await Promise.all([call('a', 'b'), call('b', 'a')])
      expect(a.value).toBe('a')
      expect(b.value).toBe('b')
    } finally {
      dir.cleanup()
    }
  })

  it('runs as pid 2 with its own hostname; a write to /etc is reported and invisible on the host', async () => {
    const path = `/etc/nsiso-isolate-${process.pid}`
    const { value, usage } = await isolate(
      async (p: string) => {
        const fs = await import('node:fs')
        const os = await import('node:os')
        fs.writeFileSync(p, 'x')
        return { pid: process.pid, host: os.hostname(), inside: process.env.NS_ISOLATED_INSIDE }
      },
      // root inside (rootless too): /etc is root's
      { args: path, user: 'root' },
    )
    expect(value.pid).toBe(2)
    expect(value.host).not.toBe(hostname())
    expect(value.host).toBe(usage.hostname)
    expect(value.inside).toBe(usage.hostname)
    expect(existsSync(path)).toBe(false)
    expect(usage.writes).toContainEqual({ path, kind: 'file' })
  })

  it('a leaked daemon is reported in usage and dead afterwards', async () => {
    const marker = uniqueSleep()
    const { usage } = await isolate(
      async (m: string) => {
        const { spawn } = await import('node:child_process')
        // A daemon: its own session (setsid), not waited for; 'spawn' fires once sleep is exec'd.
        const daemon = spawn('sleep', [m], { stdio: 'ignore', detached: true })
        await new Promise((r) => daemon.on('spawn', r))
        daemon.unref()
      },
      { args: marker },
    )
    expect(usage.leaksKnown).toBe(true)
    expect(usage.leaked).toEqual([{ pid: expect.any(Number), command: `sleep ${marker}` }])
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('reports usage: CPU, peak memory, pids, where the figures came from', async () => {
    const { usage } = await isolate(() => {
      let x = 0
      for (let i = 0; i < 5e6; i++) x += i
      return x
    })
    expect(usage.wallMs).toBeGreaterThan(0)
    expect(usage.cpuUserMs).toBeGreaterThan(0)
    expect(usage.memoryPeakBytes).toBeGreaterThan(1024 * 1024)
    expect(['cgroup', 'rusage']).toContain(usage.source)
    if (usage.source === 'cgroup') expect(usage.pidsPeak).toBeGreaterThanOrEqual(1)
    expect(usage.oomKills).toBe(0)
    expect(usage.leaked).toEqual([])
  })

  it("stdio 'pipe' returns the function's output; 'ignore' drops it", async () => {
    const piped = await isolate(
      () => {
        console.log('to stdout')
        console.error('to stderr')
        return 1
      },
      { stdio: 'pipe' },
    )
    expect(piped.stdout).toBe('to stdout\n')
    expect(piped.stderr).toBe('to stderr\n')
    const ignored = await isolate(() => console.log('gone'), { stdio: 'ignore' })
    expect(ignored.stdout).toBeUndefined()
  })
})
