/**
 * Helpers of the Vitest front door's e2e tests: a fixture project in a temp
 * dir (its node_modules a symlink to the repository's, so `vitest` and
 * `vitest-environment-ns-isolated` resolve as for a user), and a real
 * `vitest run` in it on Node 24.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

export const repo = resolve(import.meta.dirname, '../..')
/**
 * The node_modules the fixture projects link to: the repository's, or
 * NS_ISOLATED_TEST_MODULES (another Vitest major installed with the packed
 * packages, to run these tests against it).
 */
const modules = process.env.NS_ISOLATED_TEST_MODULES || join(repo, 'node_modules')
const vitestBin = join(modules, 'vitest/vitest.mjs')

/** The major version of the Vitest the fixture projects run. */
export function vitestMajor(): number {
  return Number.parseInt(JSON.parse(readFileSync(join(modules, 'vitest/package.json'), 'utf8')).version, 10)
}
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

export interface RunOptions {
  /** stdout and stderr into one file, as a terminal shows them: `stdout` holds both (in the order written), `stderr` is ''. */
  merged?: boolean
  /** A command that runs Node (and Vitest) as its arguments, e.g. a helper that installs a seccomp filter and execs them. */
  prefix?: string[]
  /** Told the runner's pid as soon as it is spawned (to signal it mid-run). */
  onSpawn?: (pid: number | undefined) => void
}

export interface Project {
  dir: string
  write(path: string, text: string): void
  read(path: string): string
  exists(path: string): boolean
  run(args?: string[], env?: NodeJS.ProcessEnv, options?: RunOptions): Promise<RunOutput>
  /** Starts `vitest watch` (watch mode, stdin a pipe, no CI). */
  watch(args?: string[], env?: NodeJS.ProcessEnv, options?: WatchOptions): WatchRun
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
  try {
    if (name) cpSync(join(fixtures, name), dir, { recursive: true })
    symlinkSync(modules, join(dir, 'node_modules'))
  } catch (e) {
    rmSync(dir, { recursive: true, force: true }) // no cleanup is registered yet
    throw e
  }
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
    run: (args = [], env = {}, options = {}) => runVitest(dir, args, env, options),
    watch: (args = [], env = {}, options = {}) => watchVitest(dir, args, env, options),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colours and cursor movements
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')

export function runVitest(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: RunOptions = {},
): Promise<RunOutput> {
  return new Promise((resolvePromise, reject) => {
    const mergedPath = options.merged ? join(tmpdir(), `nsv-e2e-output-${process.pid}-${n++}`) : undefined
    const fd = mergedPath ? openSync(mergedPath, 'w') : undefined
    const [file, ...pre] = [...(options.prefix ?? []), process.execPath]
    const child = spawn(file as string, [...pre, vitestBin, 'run', ...args], {
      cwd,
      env: childEnv(env),
      stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
    })
    if (fd !== undefined) closeSync(fd)
    options.onSpawn?.(child.pid)
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (mergedPath) {
        stdout = readFileSync(mergedPath, 'utf8')
        rmSync(mergedPath, { force: true })
      }
      const output = stripAnsi(`${stdout}\n${stderr}`)
      resolvePromise({ pid: child.pid, code, signal, stdout, stderr, output })
    })
  })
}

/** A running `vitest watch`. */
export interface WatchRun {
  child: ChildProcess
  /** Everything printed so far (stdout + stderr, without colours). */
  output(): string
  /** Resolves once `ready(output())` holds; rejects if vitest exits first. Never a wall-time gate: the caller's test timeout bounds it. */
  until(ready: (output: string) => boolean): Promise<string>
  /** Resolves with how vitest ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export interface WatchOptions {
  /** Run vitest in a terminal (util-linux `script` allocates one), as a user does: its keyboard shortcuts need a TTY stdin. `child` is then `script`. */
  terminal?: boolean
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

export function watchVitest(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: WatchOptions = {},
): WatchRun {
  const argv = [process.execPath, vitestBin, 'watch', ...args]
  // Vitest removes its temp dir (os.tmpdir()/<id>) on close, not on the SIGTERM these tests send:
  // keep it in the project, which cleanup() removes.
  const tmp = join(cwd, '.vitest-tmp')
  mkdirSync(tmp, { recursive: true })
  env = { TMPDIR: tmp, ...env }
  const [file, fileArgs] = options.terminal
    ? ['script', ['-q', '-f', '-e', '-c', argv.map(shellQuote).join(' '), '/dev/null']]
    : [argv[0] as string, argv.slice(1)]
  const child = spawn(file, fileArgs, { cwd, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] })
  let text = ''
  const waiters = new Set<() => void>()
  const onData = (d: string) => {
    text += d
    for (const w of [...waiters]) w()
  }
  child.stdout.setEncoding('utf8').on('data', onData)
  child.stderr.setEncoding('utf8').on('data', onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => {
    child.once('close', (code, signal) => {
      for (const w of [...waiters]) w()
      r({ code, signal })
    })
  })
  const output = () => stripAnsi(text)
  return {
    child,
    output,
    exited,
    until: (ready) =>
      new Promise((resolvePromise, reject) => {
        const check = () => {
          if (ready(output())) {
            waiters.delete(check)
            resolvePromise(output())
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check)
            reject(
              new Error(
                `vitest exited (${child.exitCode ?? child.signalCode}) before it printed what was awaited:\n${output()}`,
              ),
            )
          }
        }
        waiters.add(check)
        check()
      }),
  }
}

/** A config file with the plugin and the given plugin options / test options (JS object literals as text); `top`: more top-level keys (`cacheDir: '.cache',`). */
export function config(pluginOptions = '{}', testOptions = "{ environment: 'ns-isolated' }", top = ''): string {
  return `import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
export default defineConfig({
  ${top}
  plugins: [nsIsolated(${pluginOptions})],
  test: ${testOptions},
})
`
}

/** A config file for stock Vitest (no plugin): Vitest's own forks pool. */
export function stockConfig(testOptions = "{ pool: 'forks' }", top = ''): string {
  return `import { defineConfig } from 'vitest/config'
export default defineConfig({
  ${top}
  test: ${testOptions},
})
`
}

/** The run's summary lines (`Test Files …`, `Tests …`), spacing normalised. */
export function summary(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => /^\s*(Test Files|Tests)\s/.test(l))
    .map((l) => l.trim().replace(/\s+/g, ' '))
}

/** Host pids whose command line contains `marker`. */
export { pidsWithMarker as hostPidsWith } from '../helpers.ts'

let n = 0
/** A sleep duration no other process has: its command line marks the test's processes on the host. */
export function uniqueSleep(): string {
  return `1000.${process.pid}${String(Date.now() % 1e6).padStart(6, '0')}${n++}`
}

/**
 * The same fixture twice, stock (forks) and isolated, each with its own
 * cache dir (Vitest orders files by its results cache) and one worker, so
 * the order is fixed; both are added to `cleanup` for the caller's afterEach.
 */
export function stockAndIsolated(
  cleanup: Project[],
  fixture: string,
  { files = {}, plugin = '{}' }: { files?: Record<string, string>; plugin?: string } = {},
): { stock: Project; iso: Project } {
  const top = "cacheDir: '.cache',"
  const stock = project(fixture, { ...files, 'vitest.config.ts': stockConfig("{ pool: 'forks', maxWorkers: 1 }", top) })
  const iso = project(fixture, {
    ...files,
    'vitest.config.ts': config(
      `{ ...${plugin}, report: { table: false, json: 'ns.json' } }`,
      "{ environment: 'ns-isolated', maxWorkers: 1 }",
      top,
    ),
  })
  cleanup.push(stock, iso)
  return { stock, iso }
}

/** The verbose reporter's lines up to the summary, without durations, timestamps and the root. */
export function verboseLines(r: RunOutput, root: string): string[] {
  const text = r.output.split(root).join('<root>')
  return text
    .slice(0, text.indexOf(' Start at '))
    .split('\n')
    .map((l) => l.replace(/ \d+(\.\d+)?m?s( |$)/, '$1').trimEnd())
    .filter((l) => l !== '')
}

/** Vitest's JSON report (the parts the comparisons read). */
export type JsonReport = {
  startTime?: number
  numTotalTests: number
  testResults: {
    name: string
    startTime?: number
    endTime?: number
    assertionResults: {
      fullName: string
      status: string
      duration?: number
      failureMessages: string[]
      meta: Record<string, unknown>
    }[]
  }[]
}

/** A project's JSON report without timings and the root, to compare with stock's. */
export function normalisedJson(p: Project, file: string): JsonReport {
  const report = JSON.parse(p.read(file).split(p.dir).join('<root>')) as JsonReport
  delete report.startTime
  for (const f of report.testResults) {
    delete f.startTime
    delete f.endTime
    for (const a of f.assertionResults) delete a.duration
  }
  return report
}
