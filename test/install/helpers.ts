/**
 * Helpers of the install tests: projects created outside the repository,
 * installed by npm from the release tarballs (scripts/pack.mjs) plus the
 * registry, and runs of real processes in them.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { expect, inject } from 'vitest'
import { collect, root } from '../helpers.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The directory with the three tarballs. */
    packs: string
    /** Whether the core tarball carries the arm64 launcher (false where no cross compiler could be had). */
    bothArches: boolean
    /** Old Node binaries to refuse, by what they stand for. */
    oldNodes: { version: string; path: string; why: string }[]
  }
}

export const PACKAGES = {
  core: 'ns-isolated',
  vitest: 'vitest-environment-ns-isolated',
  jest: 'jest-environment-ns-isolated',
} as const
export const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

/** The tarball of a package. */
export function tarball(pkg: keyof typeof PACKAGES): string {
  return join(inject('packs'), `${PACKAGES[pkg]}-${version}.tgz`)
}

export interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout + stderr, without colours. */
  output: string
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colours
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')

/**
 * Runs a command to its end. `hangGuard` (ms) only stops a process that
 * would otherwise never end, so a hang fails the test instead of the run;
 * nothing is measured against it.
 */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; hangGuard?: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {}
    // Not our own runner's variables (Vitest's, CI's, the sandbox's).
    for (const [k, v] of Object.entries(process.env)) {
      if (!/^(VITEST|NS_ISOLATED|NODE_OPTIONS$|JEST_WORKER_ID$|npm_)/.test(k)) env[k] = v
    }
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const text = collect(child)
    const guard = setTimeout(() => child.kill('SIGKILL'), opts.hangGuard ?? 600_000)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(guard)
      const { stdout, stderr } = text
      resolve({ code, signal, stdout, stderr, output: stripAnsi(`${stdout}\n${stderr}`) })
    })
  })
}

export interface UserProject {
  dir: string
  write(path: string, text: string): void
  read(path: string): string
  /** `npm install` of these specs (registry names or tarball paths), as a user runs it. */
  install(specs: string[]): Promise<void>
  /** The installed version of a package. */
  installed(name: string): string
  cleanup(): void
}

/** A new project in the temp dir, outside the repository (so nothing resolves to the repository's packages). */
export function userProject(name: string, packageJson: Record<string, unknown> = {}): UserProject {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `nsiso-install-${name}-`)))
  if (!relative(root, dir).startsWith('..')) throw new Error(`${dir} is inside the repository`)
  const write = (path: string, text: string) => {
    const full = join(dir, path)
    rmSync(full, { force: true })
    mkdirSync(dirname(full), { recursive: true })
    writeFileSync(full, text)
  }
  write('package.json', `${JSON.stringify({ name: `nsiso-${name}`, private: true, ...packageJson }, null, 2)}\n`)
  return {
    dir,
    write,
    read: (path) => readFileSync(join(dir, path), 'utf8'),
    async install(specs) {
      const r = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { cwd: dir })
      if (r.code !== 0) throw new Error(`npm install ${specs.join(' ')} failed (${r.code}):\n${r.output}`)
    },
    installed: (pkg) =>
      (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The fixture suite's results (Vitest's or Jest's --json file): 4 passed, and one normal failure, the deliberate one. */
export function expectOneDeliberateFailure(json: string, expected: string): void {
  const j = JSON.parse(json) as {
    numPassedTests: number
    numFailedTests: number
    numPendingTests: number
    testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[]
  }
  const failed = j.testResults.flatMap((f) => f.assertionResults).filter((t) => t.status === 'failed')
  expect(failed.map((t) => t.title)).toEqual(['deliberately fails'])
  expect(failed[0]?.failureMessages[0]).toContain(expected)
  expect([j.numPassedTests, j.numFailedTests, j.numPendingTests]).toEqual([4, 1, 0])
}

/**
 * The fixture suite's rendezvous (`test/meet.js`): listens on 127.0.0.1:3000 and holds the port until
 * the other file listens on it too, as an ES module (Vitest) or CommonJS (Jest).
 */
export function meetSource(module: 'esm' | 'cjs'): string {
  const [fs, net, exported, footer] =
    module === 'esm'
      ? [
          "import { existsSync, mkdirSync, writeFileSync } from 'node:fs'",
          "import { createServer } from 'node:net'",
          'export ',
          '',
        ]
      : [
          "const { existsSync, mkdirSync, writeFileSync } = require('node:fs')",
          "const { createServer } = require('node:net')",
          '',
          'module.exports = { listenAndMeet }\n',
        ]
  return `${fs}
${net}

${exported}async function listenAndMeet(me, other) {
  mkdirSync('shared', { recursive: true })
  const server = createServer()
  await new Promise((resolve, reject) => server.once('error', reject).listen(3000, '127.0.0.1', resolve))
  writeFileSync(\`shared/\${me}\`, 'listening')
  while (!existsSync(\`shared/\${other}\`)) await new Promise((r) => setTimeout(r, 20))
  await new Promise((r) => server.close(r))
}
${footer}`
}

/** A number no other sleep on this machine has, so a leaked `sleep N` is ours. */
export function uniqueSleep(): number {
  return 40_000 + ((process.pid * 97 + Date.now()) % 50_000)
}
