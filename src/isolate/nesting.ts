/**
 * Host side: may a sandbox be prepared from here? Inside a sandbox (the
 * caller itself runs in one) the core's stale-cgroup sweep cannot see the
 * outer runner's pid — it lives outside this PID namespace — so it takes
 * the cgroups of every live sandbox, its own included, for stale ones and
 * kills them. Until the core skips the sweep inside a sandbox, nesting is
 * refused wherever that sweep could act (the ns-isolated cgroups are
 * writable: root); it works where it cannot (rootless without delegation).
 */
import { accessSync, constants, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type ErrorCode, NsIsolatedError } from '../errors.ts'
import { INSIDE_ENV } from '../protocol.ts'

/** Nesting refused on this host for now. Pending an entry in `ErrorCodes`. */
export const NESTING_UNSUPPORTED = 'ENS_NESTING_UNSUPPORTED' as ErrorCode

function sweepCouldAct(root = '/sys/fs/cgroup'): boolean {
  let dirs: string[]
  try {
    dirs = ['', ...readdirSync(root)]
  } catch {
    return false
  }
  for (const d of dirs) {
    try {
      accessSync(join(root, d, 'ns-isolated'), constants.W_OK)
      return true
    } catch {}
  }
  return false
}

export function assertNestingSafe(): void {
  const inside = process.env[INSIDE_ENV]
  if (inside === undefined || !sweepCouldAct()) return
  throw new NsIsolatedError(
    NESTING_UNSUPPORTED,
    `ns-isolated: isolate() was called inside the sandbox '${inside}' with write access to the cgroups: a nested sandbox cannot be made safely here yet (from inside a PID namespace the stale-cgroup sweep would kill the sandboxes it cannot see, this one included). Call isolate() outside the sandbox, or run the outer sandbox rootless (mode: 'rootless').`,
    { details: { inside } },
  )
}
