/**
 * Test helpers. Tests use the built package (dist/), as users do; `npm test`
 * builds first.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { expect } from 'vitest'

export const root = resolve(import.meta.dirname, '..')

/**
 * This host's cgroup2 at /sys/fs/cgroup has nsdelegate (every systemd v2
 * host): a sandbox then gets a cgroup namespace of its own, and nested
 * sandboxes get cgroups under it. Elsewhere (v1, hybrid) a sandbox sees the
 * host's cgroupfs read-only, and nested sandboxes run under the outer's.
 */
export const delegableCgroups = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .some((l) => / \/sys\/fs\/cgroup /.test(l) && / - cgroup2 \S+ \S*nsdelegate/.test(l))
export const dist = (p: string) => join(root, 'dist', p)
export const node = process.execPath

/** A fresh temp dir readable by everyone (the rootless tests run as nobody). */
export function tempDir(prefix = 'nsiso-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(path, 0o777)
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * What a sandboxed test file saw of Node's compile cache: the compile-cache
 * tests' probe writes `out/seen.json` (NODE_COMPILE_CACHE and
 * `module.getCompileCacheDir()`) in the project at `projectDir`.
 */
export function compileCacheSeen(projectDir: string): { env: string | null; dir: string | null } {
  return JSON.parse(readFileSync(join(projectDir, 'out', 'seen.json'), 'utf8'))
}

/** The worker compiled through our default cache under `base` (its TMPDIR), and the cache filled on the host. */
export function expectCompileCacheFilled(projectDir: string, base: string): void {
  const cache = join(base, `ns-isolated-compile-cache-${process.getuid?.()}`)
  const seen = compileCacheSeen(projectDir)
  expect(seen.env).toBe(cache)
  // Node took it: the cache is on inside (its per-version subdirectory of ours).
  expect(seen.dir?.startsWith(`${cache}/`)).toBe(true)
  // Written through to the host: the runner's own modules, compiled once, kept for the next worker.
  expect(readdirSync(cache).flatMap((v) => readdirSync(join(cache, v))).length).toBeGreaterThan(10)
}

/** Runs an ESM script (text) with the given uid (65534 = nobody: the real rootless path) and returns its stdout JSON. */
export function runScript(
  source: string,
  opts: { asNobody?: boolean; env?: NodeJS.ProcessEnv; prefix?: string[] } = {},
): { stdout: string; stderr: string; status: number | null; json: unknown } {
  const dir = tempDir('nsiso-script-')
  const file = join(dir.path, 'script.mjs')
  writeFileSync(file, source.replaceAll('@dist/', `${join(root, 'dist')}/`))
  chmodSync(file, 0o644)
  const prefix = [...(opts.prefix ?? []), ...(opts.asNobody ? asUnprivileged : [])]
  const argv = [...prefix, node, file]
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    cwd: dir.path,
    env: { ...process.env, HOME: dir.path, ...opts.env },
    encoding: 'utf8',
    timeout: 120_000,
  })
  dir.cleanup()
  const last = r.stdout.trim().split('\n').pop() ?? ''
  let json: unknown
  try {
    json = JSON.parse(last)
  } catch {
    json = undefined
  }
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, json }
}

/** Host pids whose command line contains `marker`. */
export function pidsWithMarker(marker: string): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8')
      if (cmd.includes(marker) && Number(name) !== process.pid) out.push(Number(name))
    } catch {}
  }
  return out
}

export function mountCount(): number {
  return readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').length
}

/** Children of this process that are zombies. */
export function zombieChildren(): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] === 'Z' && Number(fields[1]) === process.pid) out.push(Number(name))
    } catch {}
  }
  return out
}

/**
 * A port free on the host's loopback now: for a test that must use the
 * host's network (this machine runs other suites too, so a fixed port there
 * could be anyone's).
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function waitFor(check: () => boolean, ms = 60_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 25))
  }
  return check()
}

let sleeps = 0
/** A sleep duration no other process has: its command line marks a test's processes. */
export function uniqueSleep(): string {
  return `1000.${process.pid}${String(Date.now() % 1e6).padStart(6, '0')}${sleeps++}`
}

export const isRoot = process.getuid?.() === 0

/**
 * The rootless tests run as an unprivileged user: nobody, dropped to with
 * setpriv when the suite runs as root; the suite's own user when it already
 * runs unprivileged (setpriv cannot change uid then, and needs not).
 */
export const unprivilegedUid = isRoot ? 65534 : (process.getuid?.() ?? 65534)
/** The command prefix that runs a command as `unprivilegedUid` (empty when the suite is unprivileged already). */
export const asUnprivileged: readonly string[] = isRoot
  ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
  : []
export { spawn }

/**
 * The body of a test file whose second of three tests starts a `setsid`
 * daemon, a double-forking shell and a child that forks 50 ms later (during
 * the third test, which waits for it and for its parent to exit): `sleep <sleep>1`, `2` and `3`, all
 * three the second test's leaks. `head` brings `test`, `spawn`, `readdirSync` and `readFileSync`
 * in the runner's module system.
 */
function leakChainFile(head: string, sleep: string): string {
  return `${head}
const commands = () => readdirSync('/proc').flatMap((p) => {
  try { return [readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0').join(' ').trim()] } catch { return [] }
})
const spawned = (c) => new Promise((r, j) => { c.once('spawn', r); c.once('error', j) }).then(() => c.unref())
test('first', () => {})
test('second', async () => {
  await spawned(spawn('setsid', ['sleep', '${sleep}1'], { stdio: 'ignore', detached: true }))
  await spawned(spawn('sh', ['-c', '(sleep ${sleep}2 &) &'], { stdio: 'ignore' }))
  await spawned(spawn(process.execPath, ['-e', "setTimeout(() => require('child_process').spawn('sleep', ['${sleep}3'], { stdio: 'ignore', detached: true }).unref(), 50)"], { stdio: 'ignore' }))
})
// The runner's 5 s test timeout is no bound for a wait a loaded machine stretches (a Node start): the outer test's is.
test('third', async () => {
  // The late child forks while this test runs (still the second test's), and its parent exits.
  for (let c = commands(); !c.includes('sleep ${sleep}3') || c.some((l) => l.includes("['${sleep}3']")); c = commands())
    await new Promise((r) => setTimeout(r, 5))
}, 300000)
`
}

/** `count` such files, `f00<ext>` to …, each with sleeps of its own (`<sleep><NN>1`, …). */
export function leakChainFiles(head: string, sleep: string, ext: string, count: number): Record<string, string> {
  const files: Record<string, string> = {}
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(2, '0')
    files[`f${n}${ext}`] = leakChainFile(head, `${sleep}${n}`)
  }
  return files
}

/** A `leakChainFiles` file's report: its three leaks, each pid once, under the second test, by their final command. */
export function expectLeakChain(
  f: { file: string; leaked: { pid: number; command: string; test?: string }[] },
  sleep: string,
): void {
  const n = f.file.slice(1, 3)
  const expected = [1, 2, 3].map((k) => ({ command: `sleep ${sleep}${n}${k}`, test: 'second' }))
  const leaked = f.leaked
    .map(({ command, test }) => ({ command, test }))
    .sort((a, b) => a.command.localeCompare(b.command))
  expect(leaked, `${f.file}: ${JSON.stringify(f.leaked)}`).toEqual(expected)
  expect(new Set(f.leaked.map((l) => l.pid)).size).toBe(3)
}

/** What a child writes, collected as it comes: the returned texts grow until it closes its pipes. */
export function collect(child: { stdout: Readable | null; stderr: Readable | null }): {
  stdout: string
  stderr: string
} {
  const text = { stdout: '', stderr: '' }
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    text.stdout += d
  })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    text.stderr += d
  })
  return text
}
