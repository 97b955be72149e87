/**
 * The one owner of a sandbox once its launcher runs. A front door prepares a
 * launch (prepare.ts) and starts the launcher its own way (spawn, fork, a
 * jest-worker child); from there this module does the rest, the same for
 * all: it reads the status channel as the launcher writes it (parsed by
 * protocol.ts), says when the setup is done, turns the launcher's exit and
 * its status into the sandbox's result, and gives that result out only once
 * the sandbox's cgroup is gone.
 */
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { type SetupDoneLine, StatusReader } from '../protocol.ts'
import { internalsOf, type LauncherExit, type SandboxLaunch, type SandboxResult } from './prepare.ts'

/** A launcher the front door cannot hold as a ChildProcess (jest-worker hides it): when it has exited. */
export interface HiddenLauncher {
  readonly exited: Promise<LauncherExit | undefined>
}

export interface StartOptions {
  /**
   * Directories created for the writable paths (prepareSandbox) are removed
   * again when left empty, also after a sandbox that succeeded (they were
   * made only to be bound). Default: only after one that failed.
   */
  tidyWritable?: boolean
}

/** A started sandbox. */
export interface StartedSandbox<L extends ChildProcess | HiddenLauncher> {
  /** What `start` returned. */
  readonly launcher: L
  /** true once the launcher said its setup is done; false when the sandbox ended (or never started) first. */
  readonly setup: Promise<boolean>
  /**
   * The sandbox's result, once it has ended and its cgroup is gone. Rejects
   * with NsIsolatedError when it could not be set up or started. Nobody need
   * wait for it: a rejection nobody waits for is not reported as unhandled.
   */
  readonly result: Promise<SandboxResult>
  /** True once the launcher has exited, or never started. */
  gone(): boolean
  /** Wall time counts from now (a worker booted ahead counts from when a file took it). */
  restartClock(): void
}

/**
 * Starts the launcher through `start` (which must use `launch.file`,
 * `launch.args` and `launch.env`) and owns the sandbox from there. The
 * status comes from the launcher's stdio slot `launch.channel.statusFd` (a
 * pipe, read as it comes), or from `launch.channel.statusFile`, read once the
 * launcher has exited (the front door that chose the file removes it).
 */
export function startSandbox<L extends ChildProcess | HiddenLauncher>(
  launch: SandboxLaunch,
  start: () => L,
  options: StartOptions = {},
): StartedSandbox<L> {
  const { finish, writable } = internalsOf(launch)
  let launcher: L
  try {
    launcher = start()
  } catch (e) {
    void launch.abandon()
    throw e
  }
  let startedAt = performance.now()
  let gone = false
  const reader = new StatusReader()
  let setupSeen!: (ok: boolean) => void
  const setup = new Promise<boolean>((r) => {
    setupSeen = r
  })
  const read = (lines: ReturnType<StatusReader['push']>) => {
    if (lines.some((l): l is SetupDoneLine => 'setup' in l)) setupSeen(true)
  }

  let statusRead: Promise<void>
  let exited: Promise<LauncherExit | Error>
  const { statusFd, statusFile } = launch.channel
  if (isChildProcess(launcher)) {
    const child = launcher
    exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      // A launcher that could not be spawned at all emits 'error' and never 'exit'.
      child.once('error', (e) => {
        if (child.pid === undefined) resolve(e)
      })
    })
    const stream = statusFd === undefined ? undefined : (child.stdio[statusFd] as Readable | null | undefined)
    statusRead = stream
      ? new Promise((resolve) => {
          stream.setEncoding('utf8')
          stream.on('data', (d: string) => read(reader.push(d)))
          // The pipe closes after its last line was read: a setup line written before an early exit is not missed.
          stream.once('close', () => {
            read(reader.end())
            setupSeen(false)
            resolve()
          })
        })
      : exited.then(() => readStatusFile(statusFile, reader, read))
  } else {
    exited = launcher.exited.then((e) => e ?? { code: null, signal: null })
    statusRead = exited.then(() => readStatusFile(statusFile, reader, read))
  }

  void exited.then(() => {
    gone = true
  })
  // A launcher that never started has no status to wait for.
  const ended = exited.then((exit): LauncherExit | Error | Promise<LauncherExit> =>
    exit instanceof Error ? exit : statusRead.then(() => exit),
  )
  const result = ended.then(async (exit) => {
    setupSeen(false)
    if (exit instanceof Error) {
      await launch.abandon()
      throw new NsIsolatedError(ErrorCodes.LAUNCHER_FAILED, `ns-isolated: cannot start the launcher: ${exit.message}`, {
        cause: exit,
      })
    }
    let r: SandboxResult
    try {
      r = finish(reader.lines, exit, performance.now() - startedAt)
    } catch (e) {
      writable.release(true)
      await launch.disposed
      throw e
    }
    writable.release(options.tidyWritable === true)
    // Nothing of the sandbox outlives its result.
    await launch.disposed
    return r
  })
  result.catch(() => {})
  return {
    launcher,
    setup,
    result,
    gone: () => gone,
    restartClock: () => {
      startedAt = performance.now()
    },
  }
}

function isChildProcess(l: ChildProcess | HiddenLauncher): l is ChildProcess {
  return typeof (l as ChildProcess).kill === 'function' && 'stdio' in l
}

/** A status file is read whole once the launcher has exited. */
function readStatusFile(
  file: string | undefined,
  reader: StatusReader,
  read: (lines: ReturnType<StatusReader['push']>) => void,
): void {
  if (file === undefined) return
  try {
    read(reader.push(readFileSync(file, 'utf8')))
  } catch {
    // never written: the launcher died before it could open it
  }
  read(reader.end())
}
