/**
 * Jest e2e helpers: a fixture project copied to a temp dir (its
 * node_modules a symlink to ours, so `jest` and the preset resolve as in a
 * user's project), and real Jest (30, or NS_ISOLATED_TEST_MODULES's) run on it with Node 24.
 */

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import {
  chmodSync,
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
import { dirname, join } from 'node:path'
import type { ResetReport } from '../../plugins/jest/dist/messages.js'
import { asUnprivileged, root } from '../helpers.ts'

export const fixtures = join(import.meta.dirname, 'fixtures')
const node = join(root, 'node_modules', '.bin', 'node')
/**
 * The node_modules the fixture projects link to: the repository's, or
 * NS_ISOLATED_TEST_MODULES (another Jest major installed with the packed
 * packages, to run these tests against it).
 */
const modules = process.env.NS_ISOLATED_TEST_MODULES || join(root, 'node_modules')
const jestBin = join(modules, 'jest', 'bin', 'jest.js')

/** The major version of the Jest the fixture projects run. */
export function jestMajor(): number {
  return Number.parseInt(JSON.parse(readFileSync(join(modules, 'jest', 'package.json'), 'utf8')).version, 10)
}

export interface Project {
  dir: string
  write(path: string, text: string): void
  read(path: string): string
  exists(path: string): boolean
  cleanup(): void
}

/** Copies `fixtures/<name>` (or `<from>/<name>`, e.g. an example), plus `extra` files, into a fresh temp dir. */
export function project(name: string, extra: Record<string, string> = {}, from = fixtures): Project {
  const dir = mkdtempSync(join(tmpdir(), `nsiso-jest-${name}-`))
  try {
    chmodSync(dir, 0o755)
    cpSync(join(from, name), dir, { recursive: true })
    symlinkSync(modules, join(dir, 'node_modules'))
  } catch (e) {
    rmSync(dir, { recursive: true, force: true }) // no cleanup is registered yet
    throw e
  }
  const p: Project = {
    dir,
    write(path, text) {
      const full = join(dir, path)
      mkdirSync(dirname(full), { recursive: true })
      writeFileSync(full, text)
    },
    read: (path) => readFileSync(join(dir, path), 'utf8'),
    exists: (path) => existsSync(join(dir, path)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
  for (const [path, text] of Object.entries(extra)) p.write(path, text)
  return p
}

export interface JestRun {
  code: number | null
  stdout: string
  stderr: string
  /** Jest's --json results. */
  results: {
    success: boolean
    numFailedTests: number
    numPassedTests: number
    numFailedTestSuites: number
    numRuntimeErrorTestSuites: number
    snapshot: {
      added: number
      updated: number
      filesRemoved: number
      unchecked: number
      uncheckedKeysByFile: unknown[]
    }
    testResults: {
      name: string
      status: string
      message: string
      assertionResults: { title: string; fullName: string; status: string; failureMessages: string[] }[]
    }[]
  }
  /** The usage report, when the fixture writes it (`report: { json: 'usage.json' }`). */
  usage: UsageReport | undefined
}

export interface UsageReport {
  version: number
  files: {
    file: string
    isolation: string
    sandbox: string
    wallMs: number
    pidsPeak: number | null
    memoryPeakBytes: number | null
    cpuUserMs: number | null
    oomKills: number
    capHit?: { cap: string; limit: number; detail: string }
    leaked: { pid: number; command: string; test?: string }[]
    reset?: ResetReport
    missingIsolation?: { missing: string; why: string; code: string }
    tests: {
      name: string
      wallMs: number
      cpuMs: number | null
      memoryPeakBytes?: number | null
      pidsPeak?: number | null
    }[]
  }[]
  totals: { files: number; leaked: number; capHits: number }
}

/**
 * Runs real Jest in the project; never rejects on a failing run. `asNobody`:
 * unprivileged (see `asUnprivileged`), the real rootless path. `prefix`: a
 * command Jest runs under (e.g. a seccomp helper that execs the rest).
 */
export function runJest(
  p: Project,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  asNobody = false,
  prefix: readonly string[] = [],
): Promise<JestRun> {
  const out = join(p.dir, '.jest-results.json')
  rmSync(out, { force: true })
  rmSync(join(p.dir, 'usage.json'), { force: true })
  return new Promise((resolve, reject) => {
    const argv = [...prefix, node, jestBin, '--ci=false', '--json', `--outputFile=${out}`, ...args]
    if (asNobody) {
      chmodSync(p.dir, 0o777)
      argv.unshift(...asUnprivileged)
    }
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: p.dir,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...(asNobody ? { HOME: p.dir } : {}), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const output = collect(child)
    child.once('error', reject)
    child.once('close', (code) => {
      const { stdout, stderr } = output
      let results: JestRun['results']
      try {
        results = JSON.parse(readFileSync(out, 'utf8'))
      } catch {
        results = { success: false, testResults: [] } as unknown as JestRun['results']
      }
      const usagePath = join(p.dir, 'usage.json')
      const usage = existsSync(usagePath) ? (JSON.parse(readFileSync(usagePath, 'utf8')) as UsageReport) : undefined
      resolve({ code, stdout, stderr, results, usage })
    })
  })
}

/** Gathers a child's stdout and stderr as text; read the fields once it has closed. */
function collect(child: { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream }): {
  stdout: string
  stderr: string
} {
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d) => {
    out.stdout += d
  })
  child.stderr.on('data', (d) => {
    out.stderr += d
  })
  return out
}

/** Starts real Jest in the project with exactly these arguments (no --json); `CI` is left out of its environment. */
export function startJest(
  p: Project,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  prefix: readonly string[] = [],
): ChildProcessWithoutNullStreams {
  const { CI: _ci, ...rest } = process.env
  const [command, ...pre] = [...prefix, node]
  return spawn(command as string, [...pre, jestBin, ...args], {
    cwd: p.dir,
    env: { ...rest, FORCE_COLOR: '0', NO_COLOR: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

export interface RawRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs real Jest with exactly these arguments (`--ci=false` first) and collects its output; never rejects on a failing run. */
export function runJestRaw(p: Project, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RawRun> {
  const child = startJest(p, ['--ci=false', ...args], env)
  child.stdin.end()
  const out = collect(child)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout: out.stdout, stderr: out.stderr }))
  })
}

/** Jest's output without the ns-isolated usage report (from its title to its closing count and the blank line after). */
export function withoutUsage(text: string): string {
  return text.replace(
    /\n*ns-isolated usage\n[\s\S]*?\nns-isolated: \d+ files? sandboxed[^\n]*\n(ns-isolated: usage report written[^\n]*\n)?\n/,
    '\n',
  )
}

/** Host pids whose environment holds `NAME=value` (every process a Jest run starts inherits it, in sandboxes too). */
export function pidsWithEnv(name: string, value: string): number[] {
  const wanted = `${name}=${value}`
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(wanted)) out.push(Number(entry))
    } catch {}
  }
  return out
}

/** Polls `check` every 50 ms until it returns true or `ms` pass (a generous bound, never a measurement). */
export async function eventually(check: () => boolean, ms = 30_000): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

/** The output of a run, for assertion messages. */
export function output(r: JestRun | RawRun): string {
  return `exit ${r.code}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`
}
