// A fixed port in two sandboxes at once: each has its own loopback. Names
// resolve as on a well-configured host: localhost on both families, the
// sandbox's own hostname on the loopback, unknown names ENOTFOUND at once.
import { afterEach, describe, expect, it } from 'vitest'
import { sandboxHosts } from '../../dist/host/plan.js'
import { runSandbox } from '../../dist/index.js'
import { freePort, runScript, tempDir } from '../helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

// Listens on 127.0.0.1:PORT and [::1]:PORT (3000 unless given; or fails to), says so in the
// rendezvous directory, waits until the other sandbox has said the same
// (so both tried while both ran), then talks to itself on both.
const SERVER = `
const http = require('node:http'), os = require('node:os'), fs = require('node:fs'), path = require('node:path');
const { RDV, ME, OTHER } = process.env; const PORT = Number(process.env.PORT || 3000);
const say = (what) => fs.writeFileSync(path.join(RDV, ME), what);
const other = () => new Promise((ok) => { const t = setInterval(() => { if (fs.existsSync(path.join(RDV, OTHER))) { clearInterval(t); ok() } }, 10) });
const serve = (host) => new Promise((ok, ko) => { const s = http.createServer((q, r) => r.end(os.hostname())); s.on('error', ko); s.listen(PORT, host, () => ok(s)) });
const get = (host) => new Promise((ok, ko) => http.get({ host, port: PORT }, (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => ok(b)) }).on('error', ko));
(async () => {
  let servers;
  try { servers = [await serve('127.0.0.1'), await serve('::1')] } catch (e) { say('failed'); await other(); console.error(e.code); process.exit(2) }
  say('listening');
  await other();
  const a = await get('127.0.0.1'), b = await get('::1');
  if (a !== os.hostname() || b !== os.hostname()) process.exit(3);
  servers.forEach((s) => s.close());
})().catch((e) => { console.error(e.code || e); process.exit(4) });
`

function rendezvous() {
  const dir = tempDir('nsiso-rdv-')
  cleanups.push(dir.cleanup)
  const env = (me: string, other: string) => ({ ...process.env, RDV: dir.path, ME: me, OTHER: other })
  return { dir: dir.path, env }
}

describe('network (root)', { tags: ['root'] }, () => {
  it('two sandboxes listen on 127.0.0.1:3000 and [::1]:3000 at the same time', async () => {
    const { dir, env } = rendezvous()
    const results = await Promise.all(
      [
        ['net-a', 'net-b'],
        ['net-b', 'net-a'],
      ].map(([me, other]) =>
        runSandbox(process.execPath, ['-e', SERVER], {
          hostname: me,
          writable: [dir],
          env: env(me as string, other as string),
          stdio: 'inherit',
        }),
      ),
    )
    expect(results.map((r) => r.code)).toEqual([0, 0])
  })

  it('without a network namespace the same two servers collide (EADDRINUSE)', async () => {
    const { dir, env } = rendezvous()
    const port = String(await freePort()) // the host's network: 3000 may be another suite's
    const results = await Promise.all(
      [
        ['h-a', 'h-b'],
        ['h-b', 'h-a'],
      ].map(([me, other]) =>
        runSandbox(process.execPath, ['-e', SERVER], {
          hostname: me,
          network: 'host',
          writable: [dir],
          env: { ...env(me as string, other as string), PORT: port },
          stdio: 'ignore',
        }),
      ),
    )
    expect(results.map((r) => r.code).sort()).toEqual([0, 2])
  })
})

describe('network (unprivileged user)', () => {
  it('two rootless sandboxes listen on 127.0.0.1:3000 at the same time', () => {
    const { dir } = rendezvous()
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const rs = await Promise.all([['a', 'b'], ['b', 'a']].map(([me, other]) => runSandbox(process.execPath, ['-e', ${JSON.stringify(SERVER)}], { hostname: me, writable: [${JSON.stringify(dir)}], env: { ...process.env, RDV: ${JSON.stringify(dir)}, ME: me, OTHER: other } })))
      console.log(JSON.stringify(rs.map((r) => r.code)))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toEqual([0, 0])
  })
})

// What a test of a "host not found" path, a server on ::1 reached as
// localhost, and a server reached by the sandbox's hostname see.
const NAMES = `
const dns = require('node:dns'), net = require('node:net'), os = require('node:os');
const code = (p) => p.then(() => 'resolved', (e) => e.code);
(async () => {
  const out = {
    lookup: await code(dns.promises.lookup('nonexistent.invalid')),
    resolve4: await code(dns.promises.resolve4('nonexistent.invalid')),
    resolve6: await code(dns.promises.resolve6('no-such-host.example')),
  };
  for (const [bind, name] of [['::1', 'localhost'], ['127.0.0.1', 'localhost'], ['127.0.0.1', os.hostname()]]) {
    const s = await new Promise((ok) => { const s = net.createServer((c) => c.end()).listen(0, bind, () => ok(s)) });
    out[bind + ' as ' + (name === 'localhost' ? name : 'hostname')] = await new Promise((ok) => net.connect(s.address().port, name).on('connect', () => ok('ok')).on('error', (e) => ok(e.code)));
    s.close();
  }
  console.log(JSON.stringify(out));
})();
`

describe('names inside (network loopback)', () => {
  const expected = {
    lookup: 'ENOTFOUND',
    resolve4: 'ENOTFOUND',
    resolve6: 'ENOTFOUND',
    '::1 as localhost': 'ok',
    '127.0.0.1 as localhost': 'ok',
    '127.0.0.1 as hostname': 'ok',
  }

  it('unknown names fail with ENOTFOUND (lookup and resolve), localhost is both loopbacks, the hostname is local', {
    tags: ['root'],
  }, async () => {
    const out: string[] = []
    const { spawnSandbox } = await import('../../dist/index.js')
    const s = spawnSandbox(process.execPath, ['-e', NAMES], { stdio: ['ignore', 'pipe', 'inherit'] })
    s.child.stdout?.on('data', (d) => out.push(String(d)))
    expect((await s.result).code).toBe(0)
    expect(JSON.parse(out.join(''))).toEqual(expected)
  })

  it('the same as an unprivileged user', () => {
    const { json, stderr } = runScript(
      `
      import { spawnSandbox } from '@dist/index.js'
      const s = spawnSandbox(process.execPath, ['-e', ${JSON.stringify(NAMES)}], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''; s.child.stdout.on('data', (d) => out += d)
      await s.result
      console.log(out.trim())
      `,
      { asNobody: true },
    )
    expect(json, stderr).toEqual(expected)
  })

  it("the sandbox's /etc/hosts keeps the host's entries and adds what a minimal image lacks", () => {
    const minimal = '127.0.0.1\tlocalhost\n10.0.0.5 db.internal # a host entry\n'
    const text = sandboxHosts(minimal, 'box-1')
    expect(text.startsWith(minimal)).toBe(true)
    const entries = text.split('\n').filter((l) => l && !l.startsWith('#'))
    expect(entries).toContain('::1\tlocalhost ip6-localhost ip6-loopback')
    expect(entries.filter((l) => /^127\.0\.0\.1\s+localhost/.test(l))).toHaveLength(1) // not added twice
    expect(entries).toEqual(expect.arrayContaining(['127.0.0.1\tbox-1', '::1\tbox-1']))
  })
})
