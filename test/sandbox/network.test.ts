// A fixed port in two sandboxes at once: each has its own loopback.
import { describe, expect, it } from 'vitest'
import { runSandbox } from '../../dist/index.js'
import { runScript } from '../helpers.ts'

// Listens on 127.0.0.1:3000 and [::1]:3000, waits until the other sandbox is
// surely listening too, then talks to itself on both.
const SERVER = `
const http = require('node:http'), os = require('node:os');
const serve = (host) => new Promise((ok, ko) => { const s = http.createServer((q, r) => r.end(os.hostname())); s.on('error', ko); s.listen(3000, host, () => ok(s)) });
const get = (host) => new Promise((ok, ko) => http.get({ host, port: 3000 }, (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => ok(b)) }).on('error', ko));
(async () => {
  const servers = [await serve('127.0.0.1'), await serve('::1')];
  await new Promise((r) => setTimeout(r, 300));
  const a = await get('127.0.0.1'), b = await get('::1');
  if (a !== os.hostname() || b !== os.hostname()) process.exit(3);
  servers.forEach((s) => s.close());
})().catch((e) => { console.error(e.code || e); process.exit(2) });
`

describe('network (root)', { tags: ['root'] }, () => {
  it('two sandboxes listen on 127.0.0.1:3000 and [::1]:3000 at the same time', async () => {
    const results = await Promise.all(
      ['net-a', 'net-b'].map((hostname) =>
        runSandbox(process.execPath, ['-e', SERVER], { hostname, stdio: 'inherit' }),
      ),
    )
    expect(results.map((r) => r.code)).toEqual([0, 0])
  })

  it('without a network namespace the same two servers collide (EADDRINUSE)', async () => {
    const results = await Promise.all(
      ['h-a', 'h-b'].map((hostname) =>
        runSandbox(process.execPath, ['-e', SERVER], { hostname, network: 'host', stdio: 'ignore' }),
      ),
    )
    expect(results.map((r) => r.code).sort()).toEqual([0, 2])
  })
})

describe('network (unprivileged user)', () => {
  it('two rootless sandboxes listen on 127.0.0.1:3000 at the same time', () => {
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const rs = await Promise.all(['a', 'b'].map((h) => runSandbox(process.execPath, ['-e', ${JSON.stringify(SERVER)}], { hostname: h })))
      console.log(JSON.stringify(rs.map((r) => r.code)))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toEqual([0, 0])
  })
})
