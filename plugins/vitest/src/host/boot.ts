/**
 * Starting one sandboxed worker process: the launcher forked with Vitest's
 * forks worker entry as its command, exactly as the stock forks pool forks it
 * (IPC with `serialization: 'advanced'`, piped stdio), plus the status pipe.
 *
 * A boot is not tied to a file: `SandboxedForksWorker` adopts one when
 * Vitest starts a worker, either one it boots there and then or a spare
 * booted ahead while the previous file ran (spares.ts). Everything that can
 * happen before adoption (the setup line, an early exit, a spawn error) is
 * captured here as promises, so nothing is missed whenever it is adopted.
 */
import { type ChildProcess, fork } from 'node:child_process'
import type { Readable } from 'node:stream'
import { prepareSandbox, type SandboxLaunch, type SandboxOptions } from 'ns-isolated'
import type { TestProject } from 'vitest/node'
import { CAPS_ENV } from '../names.ts'
import type { CreatedDirs } from './passthrough.ts'

export const STATUS_FD = 4
/** How long a worker gets to end on SIGTERM before the sandbox is killed. */
const SIGKILL_TIMEOUT = 500
/** Installs the per-test tracker in the worker (see worker/preload.ts). */
const PRELOAD = new URL('../worker/preload.js', import.meta.url).href

/** Everything that decides what process a file's worker is: two files with equal keys can use each other's. */
export interface WorkerSpec {
  readonly project: TestProject
  /** Vitest's `<distPath>/workers/forks.js`. */
  readonly entrypoint: string
  readonly sandbox: SandboxOptions
  /** Paths under /tmp the sandbox must see (the project's root). */
  readonly keep: string[]
  /** Directories bound writable for the run (snapshots, coverage), and those of them created for it. */
  readonly through: { writable: string[]; created: string[] }
  readonly env: NodeJS.ProcessEnv
  readonly execArgv: string[]
  readonly cwd: string
  /** All of the above that reaches the process, as one string. */
  readonly key: string
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null }

export interface Boot {
  readonly spec: WorkerSpec
  readonly launch: SandboxLaunch
  readonly child: ChildProcess
  /** The status channel's text so far. */
  status(): string
  /** true once the launcher's setup line was read; false if the sandbox ended (or failed to spawn) first. */
  readonly setup: Promise<boolean>
  /** Settles when the launcher has exited and its status pipe is read to the end. */
  readonly ended: Promise<Exit>
  /** The spawn error, if the launcher could not be started. */
  readonly spawnError: () => Error | undefined
  /** True once the launcher exited (or never started). */
  readonly gone: () => boolean
}

/** Builds a spec's key (every field that reaches the forked process). */
export function specKey(spec: Omit<WorkerSpec, 'key' | 'project'>): string {
  return JSON.stringify([spec.entrypoint, spec.sandbox, spec.keep, spec.through, spec.env, spec.execArgv, spec.cwd])
}

/** Forks a sandboxed worker. Throws (NsIsolatedError) when the sandbox cannot be prepared. */
export function bootWorker(spec: WorkerSpec, created: CreatedDirs): Boot {
  created.use(spec.through.writable, spec.through.created)
  let launch: SandboxLaunch
  try {
    launch = prepareSandbox(spec.sandbox, { statusFd: STATUS_FD }, { keep: spec.keep })
  } catch (e) {
    created.release(spec.through.writable)
    throw e
  }
  const child = fork(spec.entrypoint, [], {
    execPath: launch.file,
    execArgv: [...launch.args, process.execPath, `--import=${PRELOAD}`, ...spec.execArgv],
    env: {
      ...spec.env,
      ...launch.env,
      [CAPS_ENV]: JSON.stringify({ memory: launch.options.memory, pids: launch.options.pids }),
    },
    cwd: spec.cwd,
    stdio: ['pipe', 'pipe', 'pipe', 'ipc', 'pipe'],
    serialization: 'advanced',
  })

  let status = ''
  let spawnError: Error | undefined
  let gone = false
  let setupSeen!: (ok: boolean) => void
  const setup = new Promise<boolean>((r) => {
    setupSeen = r
  })
  const statusStream = child.stdio[STATUS_FD] as Readable
  statusStream.setEncoding('utf8')
  statusStream.on('data', (d: string) => {
    status += d
    if (/"setup":/.test(status)) setupSeen(true)
  })
  const statusClosed = new Promise<void>((r) => statusStream.once('close', r))
  const exited = new Promise<Exit>((r) => {
    child.once('exit', (code, signal) => {
      gone = true
      r({ code, signal })
    })
    child.once('error', (e) => {
      spawnError ??= e
      setupSeen(false)
      // A launcher that could not be spawned at all emits 'error' and never 'exit'.
      if (child.pid === undefined) {
        gone = true
        r({ code: null, signal: null })
      }
    })
  })
  // The pipe closes after its last line was read: a setup line written before an early exit is not missed.
  statusClosed.then(() => setupSeen(false))
  const ended = Promise.all([exited, statusClosed]).then(([exit]) => {
    created.release(spec.through.writable)
    return exit
  })
  return {
    spec,
    launch,
    child,
    status: () => status,
    setup,
    ended,
    spawnError: () => spawnError,
    gone: () => gone,
  }
}

/**
 * SIGTERM to the launcher, which relays it to the worker (pid 2 inside); SIGKILL
 * to the launcher after SIGKILL_TIMEOUT kills the whole sandbox. Resolves with `ended`.
 */
export async function terminate<T>(child: ChildProcess, ended: Promise<T>): Promise<T> {
  const sigkill = setTimeout(() => child.kill('SIGKILL'), SIGKILL_TIMEOUT)
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  try {
    return await ended
  } finally {
    clearTimeout(sigkill)
  }
}

/** Ends a boot no file adopted: the worker is stopped, the sandbox's cgroup removed. */
export async function discard(boot: Boot): Promise<void> {
  await terminate(boot.child, boot.ended)
  // It never ran a file: its figures and any setup failure are nobody's (a file that boots its own reports those).
  await boot.launch.abandon()
}
