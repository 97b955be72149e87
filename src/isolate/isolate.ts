/**
 * `isolate(fn, options)`: run one function in a fresh Node process inside
 * fresh namespaces, and get its return value and the sandbox's usage back.
 * See docs/isolate.md.
 */
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { assertNodeSupported } from '../host/node-version.ts'
import { keepPathsFor } from '../host/tmp-keep.ts'
import { validateIsolateOptions } from './options.ts'
import { sharedPool } from './pool.ts'
import { assertChildEntry, childEntry, SandboxProcess } from './sandbox-process.ts'
import { buildTarget, captureCallSite } from './source.ts'
import type { IsolatedFunction, IsolateModuleTarget, IsolateOptions, IsolateResult } from './types.ts'

export { createIsolatePool } from './pool.ts'
export { ISOLATE_EXITED } from './sandbox-process.ts'
export type {
  IsolateCallOptions,
  IsolateCapHit,
  IsolatedFunction,
  IsolateModuleTarget,
  IsolateOptions,
  IsolatePool,
  IsolatePoolOptions,
  IsolateProcessOptions,
  IsolateResult,
  IsolateStdio,
  IsolateUsage,
} from './types.ts'

/**
 * Runs `fn(args)` in a fresh sandbox: a new Node process in new PID, mount,
 * network, UTS and IPC namespaces over a copy-on-write root, under the
 * asked caps. `fn` is sent as source and must be self-contained (it may
 * `import()` modules, resolved from the caller's file); `args` and the
 * return value cross by structured clone.
 *
 * Rejects with the function's own error (name, message, stack, own
 * properties), or `NsIsolatedError` with `ENS_TIMEOUT`, `ENS_ABORTED`,
 * `ENS_CAP_EXCEEDED` (`error.details.usage` has the figures so far), or a
 * setup code (`ENS_USERNS_*`, `ENS_MOUNT_FAILED`, …); option mistakes and
 * values that cannot be cloned are `TypeError`s.
 *
 * @example
 * const { value, usage } = await isolate(async ({ port }) => {
 *   const http = await import('node:http')
 *   // … listen on a fixed port, write to /etc, spawn processes …
 *   return 42
 * }, { args: { port: 3000 }, memory: '256M', timeout: 10_000 })
 */
export async function isolate<A = undefined, R = unknown>(
  fn: IsolatedFunction<A, R> | IsolateModuleTarget,
  options: IsolateOptions<A> = {},
): Promise<IsolateResult<Awaited<R>>> {
  // First, before any await: the caller is still on the stack.
  const site = captureCallSite(isolate)
  assertNodeSupported()
  const { call, process: proc, pool } = validateIsolateOptions(options, 'isolate')
  assertChildEntry()
  if (pool) {
    const keep = keepPathsFor([...(call.from ? [call.from] : site ? [site.file] : []), childEntry])
    return sharedPool(proc, pool.size, keep).runValidated<Awaited<R>>(
      fn as IsolatedFunction<never, unknown>,
      call,
      site,
    )
  }
  const target = buildTarget(fn as IsolatedFunction<never, unknown>, call.from, site)
  if (call.signal?.aborted) {
    // Nothing started: no usage to report. Same error as an abort mid-run.
    throw new NsIsolatedError(ErrorCodes.ABORTED, 'ns-isolated: the isolated function was aborted before it started.', {
      details: { usage: null },
      cause: call.signal.reason,
    })
  }
  const sandbox = new SandboxProcess({
    process: proc,
    keep: keepPathsFor([target.filename, childEntry]),
    stdio: call.stdio,
  })
  return sandbox.run<Awaited<R>>(target, call, site?.frames ?? '', false)
}
