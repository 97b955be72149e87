/**
 * Host side: the warm pool. It keeps `size` sandboxes started — Node booted,
 * the entry loaded, waiting on IPC — so a call pays only for its own work
 * and the sandbox's teardown. A sandbox is never reused: each call takes a
 * fresh one (namespaces, /tmp, hostname nobody used) and a new spare is
 * started behind it. Spares are unref'd (they never keep this process
 * alive) and killed at exit; they also die with it through PDEATHSIG.
 */

import { assertNodeSupported } from '../host/node-version.ts'
import { keepPathsFor } from '../host/tmp-keep.ts'
import { type ValidatedCall, type ValidatedProcess, validateIsolateOptions } from './options.ts'
import { childEntry, SandboxProcess } from './sandbox-process.ts'
import { buildTarget, type CallSite, captureCallSite } from './source.ts'
import type {
  IsolateCallOptions,
  IsolatedFunction,
  IsolateModuleTarget,
  IsolatePool,
  IsolatePoolOptions,
  IsolateResult,
} from './types.ts'

export class WarmPool implements IsolatePool {
  readonly size: number
  private readonly spares: SandboxProcess[] = []
  private closed = false

  private readonly proc: ValidatedProcess
  private readonly keep: string[]
  private readonly defaultTimeout: number | undefined
  private readonly defaultFrom: string | undefined

  constructor(
    proc: ValidatedProcess,
    size: number,
    keep: string[],
    defaultTimeout: number | undefined,
    defaultFrom: string | undefined,
  ) {
    this.proc = proc
    this.size = size
    this.keep = keep
    this.defaultTimeout = defaultTimeout
    this.defaultFrom = defaultFrom
    this.fill()
  }

  private start(): SandboxProcess {
    return new SandboxProcess({ process: this.proc, keep: this.keep, stdio: 'pipe' })
  }

  private fill(): void {
    while (!this.closed && this.spares.length < this.size) {
      const p = this.start()
      p.unref()
      this.spares.push(p)
    }
  }

  async run<A, R>(
    fn: IsolatedFunction<A, R> | IsolateModuleTarget,
    options?: IsolateCallOptions<A>,
  ): Promise<IsolateResult<Awaited<R>>> {
    const site = captureCallSite(this.run)
    const { call } = validateIsolateOptions(options, 'call')
    return this.runValidated(fn as IsolatedFunction<never, unknown>, call, site)
  }

  /** A call whose options were validated (by `run`, or by `isolate` with `pool`). */
  async runValidated<R>(
    fn: IsolatedFunction<never, unknown> | IsolateModuleTarget,
    call: ValidatedCall,
    site: CallSite | undefined,
  ): Promise<IsolateResult<R>> {
    if (this.closed) throw new Error('ns-isolated: this isolate pool is closed.')
    const target = buildTarget(fn, call.from ?? (site ? undefined : this.defaultFrom), site)
    const withTimeout = { ...call, timeout: call.timeout ?? this.defaultTimeout }
    const needs = keepPathsFor([target.filename])
    // A file under /tmp the spares cannot see: this call needs its own sandbox.
    if (needs.some((k) => !this.keep.some((p) => k === p || k.startsWith(`${p}/`)))) {
      const cold = new SandboxProcess({ process: this.proc, keep: [...this.keep, ...needs], stdio: call.stdio })
      return cold.run<R>(target, withTimeout, site?.frames ?? '', false)
    }
    const spare = this.spares.shift() ?? this.start()
    // The replacement starts once this call is over: a Node booting next to
    // the call would take CPU from it (and most of the latency a pool saves).
    try {
      return await spare.run<R>(target, withTimeout, site?.frames ?? '', true)
    } finally {
      this.fill()
    }
  }

  /** Resolves when every spare has started and waits for its function (e.g. in a `beforeAll`). */
  async ready(): Promise<void> {
    // Spares are unref'd: hold them while someone waits, or Node would exit under an awaited ready().
    const spares = [...this.spares]
    for (const s of spares) s.ref()
    try {
      await Promise.all(spares.map((s) => s.ready))
    } finally {
      for (const s of spares) s.unref()
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const spares = this.spares.splice(0)
    for (const s of spares) {
      s.kill()
      s.ref() // so that an awaited close() keeps this process alive until they are gone
    }
    await Promise.all(spares.map((s) => s.ended.catch(() => undefined)))
  }
}

/**
 * Creates a pool that keeps `size` fresh sandboxes started (default 1).
 * Sandbox options are the pool's; each `run` takes call options (args,
 * timeout, signal, stdio, from).
 */
export function createIsolatePool(options: IsolatePoolOptions = {}): IsolatePool {
  const site = captureCallSite(createIsolatePool)
  assertNodeSupported()
  const v = validateIsolateOptions(options, 'pool')
  const from = site?.file
  return new WarmPool(
    v.process,
    v.pool?.size ?? 1,
    keepPathsFor([...(from ? [from] : []), childEntry]),
    v.call.timeout,
    from,
  )
}

/** Pools made by `isolate(fn, { pool })`, one per distinct set of sandbox options. */
const shared = new Map<string, WarmPool>()

export function sharedPool(proc: ValidatedProcess, size: number, keep: string[]): WarmPool {
  const key = JSON.stringify([proc.sandbox, proc.execArgv, proc.env ?? null, process.cwd(), keep, size])
  let pool = shared.get(key)
  if (!pool) {
    pool = new WarmPool(proc, size, keep, undefined, undefined)
    shared.set(key, pool)
  }
  return pool
}
