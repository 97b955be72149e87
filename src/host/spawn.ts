/**
 * `spawnSandbox`: start a command in a fresh sandbox and get one result
 * object back when it ends.
 */
import { type ChildProcess, type StdioNull, type StdioPipe, spawn } from 'node:child_process'
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import type { SandboxOptions } from '../options.ts'
import { assertNodeSupported } from './node-version.ts'
import { prepareSandbox, type SandboxResult } from './prepare.ts'
import { startSandbox } from './start.ts'

type Stdio = 'inherit' | 'pipe' | 'ignore'

export interface SpawnOptions extends SandboxOptions {
  /** stdio of the command (stdin, stdout, stderr). Default: 'inherit'. */
  stdio?: Stdio | [Stdio, Stdio, Stdio]
  /** Environment of the command. Default: `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Aborting kills the whole sandbox; the result then rejects with ENS_ABORTED. */
  signal?: AbortSignal
}

export interface Sandbox {
  /** Host pid of the launcher (the process to signal). */
  readonly pid: number | undefined
  /** The launcher's ChildProcess: `stdout`/`stderr` are the command's when piped. */
  readonly child: ChildProcess
  /** Resolves when the sandbox is gone; rejects with NsIsolatedError when it could not be set up. */
  readonly result: Promise<SandboxResult>
  /** Sends a signal to the command (relayed through the launcher and PID 1). Default SIGTERM. */
  kill(signal?: NodeJS.Signals): void
}

/** Starts `command args…` in a fresh sandbox. Options are validated here (TypeError on mistakes). */
export function spawnSandbox(command: string, args: readonly string[] = [], options: SpawnOptions = {}): Sandbox {
  assertNodeSupported()
  if (typeof command !== 'string' || command === '') {
    throw new TypeError(`ns-isolated: the command must be a non-empty string; got ${typeof command}.`)
  }
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
    throw new TypeError('ns-isolated: the arguments must be an array of strings.')
  }
  const { stdio = 'inherit', env, signal, ...sandboxOptions } = options
  const launch = prepareSandbox(sandboxOptions, { statusFd: 3 })
  const three = (typeof stdio === 'string' ? [stdio, stdio, stdio] : stdio) as (StdioPipe | StdioNull)[]
  const { launcher: child, result } = startSandbox(launch, () =>
    spawn(launch.file, [...launch.args, command, ...args], {
      stdio: [...three, 'pipe'],
      env: { ...(env ?? process.env), ...launch.env },
      cwd: launch.options.cwd,
    }),
  )
  // SIGKILL to the launcher: PID 1 dies with it (PDEATHSIG), and the kernel
  // kills every process of the PID namespace.
  let stop: 'timeout' | 'abort' | undefined
  const killFor = (why: 'timeout' | 'abort') => {
    stop ??= why
    child.kill('SIGKILL')
  }
  const timer =
    launch.options.timeout !== undefined ? setTimeout(() => killFor('timeout'), launch.options.timeout) : undefined
  const onAbort = () => killFor('abort')
  signal?.addEventListener('abort', onAbort, { once: true })
  if (signal?.aborted) onAbort()

  const ended = result.finally(() => {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  })
  return {
    get pid() {
      return child.pid
    },
    child,
    result: ended.then((r) => {
      if (stop === 'timeout') {
        throw new NsIsolatedError(
          ErrorCodes.TIMEOUT,
          `ns-isolated: the sandbox ran over its timeout of ${launch.options.timeout} ms and was killed with everything in it.`,
          { details: { result: r } },
        )
      }
      if (stop === 'abort') {
        throw new NsIsolatedError(
          ErrorCodes.ABORTED,
          'ns-isolated: the sandbox was aborted and killed with everything in it.',
          { details: { result: r }, cause: signal?.reason },
        )
      }
      return r
    }),
    kill: (s: NodeJS.Signals = 'SIGTERM') => {
      child.kill(s)
    },
  }
}

/** Runs a command in a sandbox and waits for the result. */
export function runSandbox(
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): Promise<SandboxResult> {
  return spawnSandbox(command, args, options).result
}
