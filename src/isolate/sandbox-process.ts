/**
 * Host side: one sandboxed Node process waiting for one function. Started
 * by `isolate` (cold) or ahead of time by a pool (warm); either way it runs
 * exactly one function and ends. Here: forking it through the launcher,
 * the result/close bookkeeping, the timeout/abort kill, and the exit hook
 * that kills whatever is still alive when this process exits.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { deserialize } from 'node:v8'
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { prepareSandbox, type SandboxLaunch, type SandboxResult } from '../host/prepare.ts'
import { startSandbox } from '../host/start.ts'
import { capHitMessage } from '../report/caps.ts'
import { fromTransfer } from './errors-transfer.ts'
import type { ValidatedCall, ValidatedProcess } from './options.ts'
import type { ChildMessage, IsolateTarget, RunMessage } from './protocol.ts'
import type { IsolateResult } from './types.ts'
import { toUsage } from './usage.ts'

/** The function's process ended without returning (it called `process.exit`, or was killed). */
export const ISOLATE_EXITED = ErrorCodes.ISOLATE_EXITED

const here = import.meta.url
/** The sandbox-side entry, next to this file (`.ts` when run from source). */
export const childEntry = fileURLToPath(new URL(here.endsWith('.ts') ? './child-entry.cts' : './child-entry.cjs', here))

/** Every sandbox process not yet ended: killed when this process exits. */
const live = new Set<ChildProcess>()
let hooked = false
function killAllOnExit(): void {
  for (const c of live) c.kill('SIGKILL')
}

export interface StartOptions {
  process: ValidatedProcess
  /** Host paths under /tmp to carry into the sandbox's fresh /tmp. */
  keep: string[]
  /** 'inherit'/'ignore' pass straight through; 'pipe' lets each call decide (pools). */
  stdio: 'inherit' | 'ignore' | 'pipe'
}

type Outcome =
  | { t: 'value'; value: unknown }
  | { t: 'threw'; error: unknown }
  | { t: 'uncloneable'; path: string; kind: string }

/** One sandboxed process, started and waiting for its function. */
export class SandboxProcess {
  readonly child: ChildProcess
  readonly launch: SandboxLaunch
  readonly startedAt = performance.now()
  /** Resolves when the process said it is ready (false: it ended first). */
  readonly ready: Promise<boolean>
  /** Resolves with the sandbox's result when it has ended (rejects on a setup failure). */
  readonly ended: Promise<SandboxResult>
  private outcome: Outcome | undefined
  private stdout = ''
  private stderr = ''
  private forward: 'inherit' | 'pipe' | 'ignore'
  private taken = false

  constructor(opts: StartOptions) {
    this.forward = opts.stdio
    // stdio: 0 stdin (empty), 1/2 output, 3 the launcher's status fd, 4 IPC.
    this.launch = prepareSandbox(opts.process.sandbox, { statusFd: 3 }, { keep: opts.keep })
    const out = opts.stdio === 'pipe' ? 'pipe' : opts.stdio
    const sandbox = startSandbox(this.launch, () =>
      fork(childEntry, [], {
        execPath: this.launch.file,
        execArgv: [...this.launch.args, process.execPath, ...opts.process.execArgv],
        env: { ...(opts.process.env ?? process.env), ...this.launch.env },
        cwd: this.launch.options.cwd,
        serialization: 'advanced',
        stdio: ['ignore', out, out, 'pipe', 'ipc'],
      }),
    )
    this.child = sandbox.launcher
    if (!hooked) {
      hooked = true
      process.once('exit', killAllOnExit)
    }
    live.add(this.child)
    if (opts.stdio === 'pipe') {
      this.child.stdout?.setEncoding('utf8').on('data', (d: string) => this.output('stdout', d))
      this.child.stderr?.setEncoding('utf8').on('data', (d: string) => this.output('stderr', d))
    }

    let onReady: (v: boolean) => void = () => {}
    this.ready = new Promise((r) => {
      onReady = r
    })
    this.child.on('message', (m: ChildMessage) => {
      if (m.t === 'ready') onReady(true)
      else if (!this.outcome) this.outcome = this.read(m)
    })
    // The sandbox's end (or a launcher that never started) ends the wait for 'ready' too.
    this.ended = sandbox.result.finally(() => {
      live.delete(this.child)
      onReady(false)
    })
    // Nobody may be waiting yet (a pool's spare); the error surfaces at run().
    this.ended.catch(() => {})
  }

  /** A warm spare must not keep this process alive. */
  unref(): void {
    if (this.taken) return // a call is waiting on it
    this.child.unref()
    this.child.channel?.unref()
    for (const s of this.child.stdio) (s as { unref?: () => void } | null)?.unref?.()
  }

  ref(): void {
    this.child.ref()
    this.child.channel?.ref()
    for (const s of this.child.stdio) (s as { ref?: () => void } | null)?.ref?.()
  }

  kill(): void {
    // SIGKILL to the launcher: PID 1 dies with it (PDEATHSIG) and the kernel
    // kills every process of the sandbox's PID namespace.
    this.child.kill('SIGKILL')
  }

  private output(which: 'stdout' | 'stderr', d: string): void {
    if (this.forward === 'pipe') this[which] += d
    else if (this.forward === 'inherit') process[which].write(d)
  }

  private read(m: Exclude<ChildMessage, { t: 'ready' }>): Outcome {
    if (m.t === 'value') {
      try {
        return { t: 'value', value: deserialize(m.payload) }
      } catch (e) {
        return { t: 'threw', error: e }
      }
    }
    if (m.t === 'uncloneable') return m
    return { t: 'threw', error: fromTransfer(m.thrown, this.frames) }
  }

  private frames = ''

  /** Runs one function; the process ends after it. */
  async run<R>(target: IsolateTarget, call: ValidatedCall, frames: string, warm: boolean): Promise<IsolateResult<R>> {
    if (this.taken) throw new Error('ns-isolated: internal: a sandbox process runs one function only')
    this.taken = true
    this.frames = frames
    if (warm) this.forward = call.stdio
    const callStart = warm ? performance.now() : this.startedAt
    this.ref()

    let stop: 'timeout' | 'abort' | undefined
    const killFor = (why: 'timeout' | 'abort') => {
      if (stop) return
      stop = why
      this.kill()
    }
    const timer =
      call.timeout !== undefined
        ? setTimeout(() => killFor('timeout'), Math.max(0, call.timeout - (performance.now() - callStart)))
        : undefined
    const onAbort = () => killFor('abort')
    call.signal?.addEventListener('abort', onAbort, { once: true })
    if (call.signal?.aborted) onAbort()

    if (!stop && this.child.connected) {
      const msg: RunMessage = { t: 'run', target, args: call.args }
      // A send error means the process died before it could take the work: 'close' tells why.
      this.child.send(msg, () => {})
    }

    let result: SandboxResult
    try {
      result = await this.ended
    } finally {
      clearTimeout(timer)
      call.signal?.removeEventListener('abort', onAbort)
    }
    const wallMs = performance.now() - callStart
    const usage = toUsage(result, wallMs)
    const piped = call.stdio === 'pipe' ? { stdout: this.stdout, stderr: this.stderr } : {}

    if (stop === 'timeout') {
      throw new NsIsolatedError(
        ErrorCodes.TIMEOUT,
        `ns-isolated: the isolated function ran over its timeout of ${call.timeout} ms; its sandbox was killed with everything in it.`,
        {
          details: { usage, result, ...piped },
        },
      )
    }
    if (stop === 'abort') {
      throw new NsIsolatedError(
        ErrorCodes.ABORTED,
        'ns-isolated: the isolated function was aborted; its sandbox was killed with everything in it.',
        {
          details: { usage, result, ...piped },
          cause: call.signal?.reason,
        },
      )
    }
    const outcome = this.outcome
    if (usage.capHit) {
      // A cap hit fails the call even when the function returned: what it
      // computed under a starved sandbox is not to be trusted silently.
      throw new NsIsolatedError(
        ErrorCodes.CAP_EXCEEDED,
        capHitMessage(
          "the isolated function's sandbox",
          usage.capHit,
          `Raise the \`${usage.capHit.cap}\` option or make the function use less.`,
        ),
        {
          details: {
            usage,
            result,
            cap: usage.capHit.cap,
            ...(outcome?.t === 'value' ? { value: outcome.value } : {}),
            ...piped,
          },
          cause: outcome?.t === 'threw' ? outcome.error : undefined,
        },
      )
    }
    if (!outcome) {
      const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`
      const tail = call.stdio === 'pipe' && this.stderr ? `\n--- its stderr ---\n${this.stderr.slice(-2000)}` : ''
      throw new NsIsolatedError(
        ISOLATE_EXITED,
        `ns-isolated: the isolated function's process ${how} before the function returned.${tail}`,
        {
          details: { usage, result, ...piped },
        },
      )
    }
    if (outcome.t === 'threw') throw outcome.error
    if (outcome.t === 'uncloneable') {
      throw new TypeError(
        `ns-isolated: the isolated function's return value cannot be cloned back to the caller: ${outcome.path} is ${outcome.kind}. Return only structured-cloneable data (no functions, symbols, native handles).`,
      )
    }
    return { value: outcome.value as R, usage, ...piped, sandbox: result }
  }
}

/** True when the entry was built (a clear error otherwise, rather than a child that cannot start). */
export function assertChildEntry(): void {
  if (!existsSync(childEntry)) {
    throw new NsIsolatedError(
      ErrorCodes.LAUNCHER_FAILED,
      `ns-isolated: the isolate entry ${childEntry} is missing; rebuild the package (npm run build).`,
    )
  }
}
