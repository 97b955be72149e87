/**
 * `ns-isolated demo` (the README's first command): shows, on this machine,
 * what a sandbox isolates, and the usage report.
 */
import { existsSync } from 'node:fs'
import type { SandboxResult } from '../host/prepare.ts'
import { runSandbox } from '../host/spawn.ts'
import { formatBytes, formatMs, formatTable } from '../report/format.ts'

const MARK = `/etc/ns-isolated-demo-${process.pid}`

const SCRIPT = `
echo "  inside: my pid is $$ (the launcher is pid 1), hostname $(hostname)"
echo "  inside: processes visible: $(ls /proc | grep -c '^[0-9]')"
echo "  inside: network interfaces: $(ls /sys/class/net | tr '\\n' ' ')"
echo written-inside > ${MARK} && echo "  inside: wrote ${MARK}: $(cat ${MARK})"
(setsid sleep 300 &); sleep 0.1
echo "  inside: started a daemon (setsid sleep 300) and exited without stopping it"
`

const SERVER = `
const http = require('node:http');
const os = require('node:os');
const server = http.createServer((q, s) => s.end(os.hostname()));
server.listen(3000, '127.0.0.1', () => {
  http.get('http://127.0.0.1:3000', (res) => {
    let body = ''; res.on('data', (d) => body += d);
    res.on('end', () => { console.log('  ' + os.hostname() + ': listening on 127.0.0.1:3000, answered "' + body + '"'); server.close(); });
  });
});
`

function row(name: string, r: SandboxResult): string[] {
  const u = r.usage
  const cpu = u.cpuUserMs !== null && u.cpuSystemMs !== null ? formatMs(u.cpuUserMs + u.cpuSystemMs) : '?'
  return [
    name,
    r.signal ?? String(r.code),
    formatMs(r.wallMs),
    cpu,
    formatBytes(u.memoryPeakBytes),
    String(u.pidsPeak ?? '?'),
    String(r.leaked.length),
    String(r.writes.length),
  ]
}

export async function runDemo(): Promise<number> {
  const out = (s: string) => process.stdout.write(`${s}\n`)
  out('1. A shell in a fresh sandbox:')
  const shell = await runSandbox('/bin/sh', ['-c', SCRIPT], { stdio: 'inherit' })
  out(`  host: ${MARK} exists on the host? ${existsSync(MARK) ? 'YES (isolation failed!)' : 'no'}`)
  out(`  host: the sandbox wrote ${shell.writes.map((w) => w.path).join(', ') || 'nothing'} (discarded)`)
  for (const l of shell.leaked) out(`  host: leaked process reported and killed: pid ${l.pid} "${l.command}"`)

  out('\n2. Two sandboxes listening on 127.0.0.1:3000 at the same time:')
  const servers = await Promise.all(
    ['demo-a', 'demo-b'].map((hostname) => runSandbox(process.execPath, ['-e', SERVER], { hostname })),
  )

  out('\n3. Usage report:')
  const head = ['sandbox', 'exit', 'wall', 'cpu', 'peak memory', 'peak pids', 'leaked', 'writes']
  const rows = [
    row('shell', shell),
    row('server demo-a', servers[0] as SandboxResult),
    row('server demo-b', servers[1] as SandboxResult),
  ]
  out(formatTable(head, rows, { align: ['left', ...head.slice(1).map(() => 'right' as const)] }))
  const ok = !existsSync(MARK) && shell.leaked.length === 1 && servers.every((s) => s.code === 0)
  out(
    ok
      ? '\nIsolation works on this machine.'
      : '\nSomething was not isolated: see above, and run `ns-isolated doctor`.',
  )
  return ok ? 0 : 1
}
