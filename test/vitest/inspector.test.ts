/**
 * --inspect-brk: a sandboxed worker's inspector must be reachable from the
 * host, where the debugger runs. The worker then shares the host's network
 * (documented); its other namespaces stay its own.
 */
import { createServer } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { config, type Project, project } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** A minimal debugger on the host: connects, lets the worker run, resumes every pause. Resolves with the target's title. */
async function debugFromHost(port: number): Promise<string> {
  let targets: { webSocketDebuggerUrl: string; title: string }[] = []
  for (;;) {
    try {
      targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as typeof targets
      if (targets.length > 0) break
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  const target = targets[0] as (typeof targets)[number]
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  let id = 0
  const send = (method: string) => ws.send(JSON.stringify({ id: ++id, method }))
  ws.addEventListener('message', (e) => {
    const msg = JSON.parse(String(e.data)) as { method?: string }
    if (msg.method === 'Debugger.paused') send('Debugger.resume')
  })
  await new Promise((r) => ws.addEventListener('open', r, { once: true }))
  send('Debugger.enable')
  send('Runtime.enable')
  send('Runtime.runIfWaitingForDebugger')
  return target.title
}

test('--inspect-brk: the worker waits for a debugger that connects from the host', async () => {
  const port = await freePort()
  p = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
  const run = p.run(['isolated', `--inspect-brk=127.0.0.1:${port}`, '--no-file-parallelism'])
  const title = await debugFromHost(port)
  const r = await run
  expect(title).toContain('forks.js')
  expect(r.output).toContain('1 passed')
  expect(r.code).toBe(0)
})
