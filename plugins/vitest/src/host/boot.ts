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
import { prepareSandbox, type SandboxLaunch, type SandboxOptions, startSandbox } from 'ns-isolated'
import type { TestProject } from 'vitest/node'
import { CAPS_ENV } from '../names.ts'
import type { CreatedDirs } from './passthrough.ts'
import type { ResultWithUsage } from './run-state.ts'

export const STATUS_FD = 4
/**
 * How long a sandbox gets to end on SIGTERM before it is killed. Not stock
 * Vitest's 500 ms: after the worker exits, PID 1 still reads the names of
 * what was left running until they settle (up to 5 s of a busy machine) and
 * reports them; a SIGKILL before that kills the leaks unreported (seen at
 * load 50-90: a file's leaks missing from the report). A worker that ignores
 * SIGTERM is killed all the same, later.
 */
const SIGKILL_TIMEOUT = 10_000
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

export interface Boot {
  readonly spec: WorkerSpec
  readonly launch: SandboxLaunch
  readonly child: ChildProcess
  /** true once the launcher's setup line was read; false if the sandbox ended (or failed to spawn) first. */
  readonly setup: Promise<boolean>
  /** The sandbox's result once it has ended and its cgroup is gone; rejects when it could not be set up or started. */
  readonly result: Promise<ResultWithUsage>
  /** Settles (never rejects) when the sandbox has ended. */
  readonly ended: Promise<void>
  /** True once the launcher exited (or never started). */
  readonly gone: () => boolean
  /** The file's wall time counts from now (a spare's idle wait is not the file's). */
  readonly restartClock: () => void
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
  // The core owns the sandbox from here: the status pipe (parsed by its protocol), the setup line, the result.
  const start = () =>
    fork(spec.entrypoint, [], {
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
  let sandbox: ReturnType<typeof startSandbox<ChildProcess>>
  try {
    sandbox = startSandbox(launch, start)
  } catch (e) {
    created.release(spec.through.writable)
    throw e
  }
  const ended = sandbox.result.then(
    () => undefined,
    () => undefined,
  )
  void ended.then(() => created.release(spec.through.writable))
  return {
    spec,
    launch,
    child: sandbox.launcher,
    setup: sandbox.setup,
    result: sandbox.result,
    ended,
    gone: sandbox.gone,
    restartClock: sandbox.restartClock,
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
  // It never ran a file: its figures and any setup failure are nobody's (a file that boots its own reports those).
  await terminate(boot.child, boot.ended)
}
