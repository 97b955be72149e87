/**
 * The one interface the rest of the module talks to: a sandbox's cgroup(s)
 * on one layout. `v1.ts` (v1 and hybrid) and `v2.ts` implement it; the
 * choice is made once, in `index.ts`. Everything here is synchronous and
 * does one pass; waiting and retrying live in `handle.ts`.
 */
import { dirname } from 'node:path'
import { type CgroupIo, ensureDir, errnoOf, realIo } from './io.ts'
import type { CgroupLayout, CgroupUsage, EnforcedCaps } from './types.ts'

export type Cap = keyof EnforcedCaps

export interface CgroupDriver {
  readonly layout: CgroupLayout
  readonly procsFiles: string[]
  readonly enforced: EnforcedCaps
  /** Figures this host cannot give, caps that were weakened. */
  readonly warnings: string[]
  read(): CgroupUsage
  /**
   * One round of killing. Round 0 uses the clean mechanism (cgroup.kill, or
   * freeze/kill/thaw); later rounds also SIGKILL every pid still listed.
   */
  kill(round: number): void
  isEmpty(): boolean
  /** rmdir every directory of the sandbox; false while the kernel answers EBUSY (tasks still exiting). */
  remove(): boolean
}

/** Why a cap (or the whole cgroup) could not be had. */
export interface Problem {
  /** The cap concerned; null when it concerns the cgroup itself (figures). */
  cap: Cap | null
  /** `readonly`: EROFS; `denied`: EACCES/EPERM (not root, not delegated); `missing`: no such controller. */
  kind: 'readonly' | 'denied' | 'missing' | 'failed'
  reason: string
}

/** What a driver's `open` returns: a driver (possibly without some caps) and what went wrong. */
export interface OpenResult {
  driver: CgroupDriver | undefined
  problems: Problem[]
}

export function problemFromError(cap: Cap | null, what: string, error: unknown): Problem {
  const code = errnoOf(error)
  if (code === 'EROFS') return { cap, kind: 'readonly', reason: `${what}: the cgroup filesystem is read-only (EROFS)` }
  if (code === 'EACCES' || code === 'EPERM')
    return { cap, kind: 'denied', reason: `${what}: permission denied (${code})` }
  return { cap, kind: 'failed', reason: `${what}: ${code ?? String(error)}` }
}

/**
 * Parent directories known to exist, so a sandbox costs one mkdir per
 * hierarchy. Removed at exit where empty (`removeEmptyParents`); if another
 * runner removes one meanwhile, the ENOENT path below recreates it.
 */
const knownParents = new Set<string>()
let exitHooked = false

/**
 * Removes the shared parents this process used, where they are empty: the
 * last runner out leaves no `ns-isolated` directory behind. Where another
 * runner's sandboxes are still there the kernel answers EBUSY and the
 * parent stays. Runs at process exit; returns how many were removed.
 */
export function removeEmptyParents(io: CgroupIo = realIo): number {
  let removed = 0
  for (const parent of [...knownParents].sort((a, b) => b.length - a.length)) {
    try {
      io.rmdir(parent)
      knownParents.delete(parent)
      removed++
    } catch {}
  }
  return removed
}

function remember(io: CgroupIo, parent: string): void {
  knownParents.add(parent)
  if (!exitHooked && io === realIo) {
    exitHooked = true
    process.once('exit', () => removeEmptyParents())
  }
}

/** mkdir of a sandbox cgroup whose parent (`…/ns-isolated`) may not exist yet. */
export function mkdirSandbox(io: CgroupIo, dir: string): void {
  const parent = dirname(dir)
  if (!knownParents.has(parent)) {
    ensureDir(io, parent)
    remember(io, parent)
  }
  try {
    io.mkdir(dir)
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error
    knownParents.delete(parent)
    ensureDir(io, parent)
    remember(io, parent)
    io.mkdir(dir)
  }
}

/**
 * rmdir of one cgroup. Child cgroups (the sandbox may have made some) are
 * removed first. True when it is gone, false on EBUSY (tasks still exiting).
 */
export function removeCgroupDir(io: CgroupIo, dir: string): boolean {
  try {
    io.rmdir(dir)
    return true
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT') return true
    if (code !== 'EBUSY' && code !== 'ENOTEMPTY') throw error
  }
  let children: string[] = []
  try {
    children = io.subdirs(dir)
  } catch {}
  if (children.length === 0) return false
  let all = true
  for (const c of children) all = removeCgroupDir(io, `${dir}/${c}`) && all
  if (!all) return false
  return removeCgroupDir(io, dir)
}

export const NO_CAPS: EnforcedCaps = Object.freeze({ memory: false, pids: false, cpu: false })
