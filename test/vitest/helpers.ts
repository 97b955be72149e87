/**
 * Helpers of the Vitest front door's e2e tests: a fixture project in a temp
 * dir (its node_modules a symlink to the repository's, so `vitest` and
 * `vitest-environment-ns-isolated` resolve as for a user), and a real
 * `vitest run` in it on Node 24.
 */
import { spawn } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

export const repo = resolve(import.meta.dirname, '../..')
const vitestBin = join(repo, 'node_modules/vitest/vitest.mjs')
export const fixtures = join(import.meta.dirname, 'fixtures')

export interface RunOutput {
  /** The runner's pid (gone by now). */
  pid: number | undefined
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout + stderr, without colours. */
  output: string
}

export interface Project {
  dir: string
  write(path: string, text: string): void
  read(path: string): string
  exists(path: string): boolean
  run(args?: string[], env?: NodeJS.ProcessEnv): Promise<RunOutput>
  cleanup(): void
}

/** The runner's environment for a child `vitest`: none of our own Vitest's variables, not CI (CI refuses to write new snapshots). */
function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VITEST|NS_ISOLATED|CI$|GITHUB_ACTIONS$|NODE_OPTIONS$|TEST$)/.test(k)) continue
    env[k] = v
  }
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0', ...extra }
}

/** Creates a fixture project from `fixtures/<name>` (if given) plus `files`. */
export function project(name: string | undefined, files: Record<string, string> = {}): Project {
  const dir = mkdtempSync(join(tmpdir(), 'nsv-e2e-'))
  if (name) cpSync(join(fixtures, name), dir, { recursive: true })
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'))
  if (!existsSync(join(dir, 'package.json')))
    writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n')
  const write = (p: string, text: string) => {
    mkdirSync(dirname(join(dir, p)), { recursive: true })
    writeFileSync(join(dir, p), text)
  }
  for (const [p, text] of Object.entries(files)) write(p, text)
  return {
    dir,
    write,
    read: (p) => readFileSync(join(dir, p), 'utf8'),
    exists: (p) => existsSync(join(dir, p)),
    run: (args = [], env = {}) => runVitest(dir, args, env),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export function runVitest(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunOutput> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [vitestBin, 'run', ...args], {
      cwd,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colours
      const output = `${stdout}\n${stderr}`.replace(/\u001b\[[0-9;]*m/g, '')
      resolvePromise({ pid: child.pid, code, signal, stdout, stderr, output })
    })
  })
}

/** A config file with the plugin and the given plugin options / test options (JS object literals as text). */
export function config(pluginOptions = '{}', testOptions = "{ environment: 'ns-isolated' }"): string {
  return `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  plugins: [nsIsolated(${pluginOptions})],
  test: ${testOptions},
})
`
}

/** Host pids whose command line contains `marker`. */
export function hostPidsWith(marker: string): number[] {
  const out: number[] = []
  for (const name of readdirSafe('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8')
      if (cmd.includes(marker) && Number(name) !== process.pid) out.push(Number(name))
    } catch {}
  }
  return out
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p)
  } catch {
    return []
  }
}

let n = 0
/** A sleep duration no other process has: its command line marks the test's processes on the host. */
export function uniqueSleep(): string {
  return `1000.${process.pid}${String(Date.now() % 1e6).padStart(6, '0')}${n++}`
}
