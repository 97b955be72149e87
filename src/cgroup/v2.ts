/**
 * cgroup v2: sandboxes live under the runner's own cgroup,
 * `<own>/ns-isolated/<name>`, so whatever caps the runner is under (a CI
 * job's slice, a container) still apply, and so a delegated subtree
 * (`systemd-run --user --scope -p Delegate=yes`) is enough for rootless caps.
 *
 * The no-internal-processes rule: a non-root cgroup with processes cannot
 * enable controllers for its children. So, as nsjail and isolate do, the
 * processes of `<own>` are moved into a leaf `<own>/ns-isolated-runner`
 * before `+memory +pids (+cpu)` is written to `<own>/cgroup.subtree_control`,
 * then to `<own>/ns-isolated/cgroup.subtree_control`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type Cap,
  type CgroupDriver,
  mkdirSandbox,
  NO_CAPS,
  type OpenResult,
  type Problem,
  problemFromError,
  removeCgroupDir,
} from './driver.ts'
import { type CgroupIo, ensureDir, errnoOf, killPid, readPids, sleepSync, tryRead } from './io.ts'
import type { CgroupMounts } from './layout.ts'
import type { CgroupLimits, CgroupUsage, EnforcedCaps } from './types.ts'
import { keyedValue, singleValue } from './usage.ts'
import { CFS_PERIOD_US, PARENT } from './v1.ts'

/** The leaf the runner's processes move into when controllers must be enabled in its own cgroup. */
export const RUNNER_LEAF = 'ns-isolated-runner'

/**
 * The runner's own cgroup directory. `selfCgroup` is the text of
 * /proc/self/cgroup (tests pass one). A runner already moved into
 * `ns-isolated-runner` (by itself or by its parent) counts as its parent's.
 */
export function ownCgroupDir(mounts: CgroupMounts, selfCgroup?: string): string {
  let text = selfCgroup
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/cgroup', 'utf8')
    } catch {
      text = ''
    }
  }
  let path = /^0::(.*)$/m.exec(text)?.[1] ?? '/'
  // Without a cgroup namespace, a container's mount shows a sub-cgroup as its
  // top while /proc/self/cgroup names the full path.
  const top = mounts.unifiedMountRoot
  if (top !== '/' && (path === top || path.startsWith(`${top}/`))) path = path.slice(top.length) || '/'
  if (path.endsWith(`/${RUNNER_LEAF}`)) path = path.slice(0, -RUNNER_LEAF.length - 1) || '/'
  return join(mounts.unified ?? mounts.root, path)
}

function tokens(text: string | undefined): Set<string> {
  return new Set((text ?? '').split(/\s+/).filter(Boolean))
}

/** Base directories whose subtree_control we already set up in this process: base → controllers. */
const prepared = new Map<string, Set<string>>()

/** Sets up `<own>/ns-isolated` so its children get `wanted`. Returns the controllers they will get. */
/** Our cgroup holds processes we must not move (see `prepare`). */
class BusyCgroup extends Error {
  readonly own: string
  constructor(own: string, others: number) {
    super(`${own} holds ${others} other process(es) that are not ours to move`)
    this.own = own
  }
}

/** Rootless, and our cgroup is not ours to write. */
class NotDelegated extends Error {}

/** The top of the cgroup2 mount (a container's namespace root, or the host's root). */
function isNamespaceRoot(dir: string, mounts: CgroupMounts): boolean {
  return dir === (mounts.unified ?? mounts.root)
}

/**
 * An ns-isolated sandbox's own cgroup: the runner is a nested one, and the
 * other processes there are of the same sandbox (its PID 1, the worker), so
 * moving them into a leaf keeps them under the same caps and figures (v2's
 * are hierarchical), and the outer runner's kill and removal still cover
 * everything (cgroup.kill is recursive, so is `removeCgroupDir`).
 */
function isSandboxCgroup(dir: string): boolean {
  return new RegExp(`/${PARENT}/[^/]+$`).test(dir)
}

function prepare(
  own: string,
  mounts: CgroupMounts,
  wanted: string[],
  io: CgroupIo,
  problems: Problem[],
  capOf: (c: string) => Cap | null,
): Set<string> {
  const base = join(own, PARENT)
  const available = tokens(tryRead(io, join(own, 'cgroup.controllers')))
  const enable = wanted.filter((c) => {
    if (available.has(c)) return true
    problems.push({
      cap: capOf(c),
      kind: 'missing',
      reason: `the ${c} controller is not available in ${own} (cgroup.controllers: ${[...available].join(' ') || 'empty'})`,
    })
    return false
  })
  if (io.uid !== 0) {
    // Rootless: only a subtree delegated to us (systemd Delegate=yes chowns
    // the directory and these two files) will take our writes.
    const files = [own, join(own, 'cgroup.procs'), join(own, 'cgroup.subtree_control')]
    const denied = files.find((f) => !io.writable(f))
    if (denied !== undefined) {
      throw new NotDelegated(`${own} is not delegated to uid ${io.uid} (${denied} is not writable)`)
    }
  }
  const ownEnabled = tokens(tryRead(io, join(own, 'cgroup.subtree_control')))
  const ownNeeds = enable.filter((c) => !ownEnabled.has(c))
  const got = new Set(enable)
  if (ownNeeds.length > 0) {
    const rootCgroup = !io.exists(join(own, 'cgroup.type')) // only the true root has none; it is exempt from the rule
    const procs = readPids(io, join(own, 'cgroup.procs'))
    const others = procs.filter((p) => p !== io.pid)
    if (!rootCgroup && procs.length > 0) {
      // Others share our cgroup (a parent runner, sibling workers, or a login
      // shell). They are ours to move only in a subtree that is ours: one
      // delegated to this (non-root) user, a container's cgroup-namespace
      // root, or the sandbox we run in. Elsewhere, as root, say so and let
      // the caller use the root cgroup.
      if (others.length > 0 && !(io.uid !== 0 || isNamespaceRoot(own, mounts) || isSandboxCgroup(own))) {
        throw new BusyCgroup(own, others.length)
      }
      const leaf = join(own, RUNNER_LEAF)
      ensureDir(io, leaf)
      for (const pid of [io.pid, ...others]) {
        try {
          io.write(join(leaf, 'cgroup.procs'), String(pid))
        } catch (error) {
          if (pid === io.pid) throw error
        }
      }
    }
    try {
      io.write(join(own, 'cgroup.subtree_control'), ownNeeds.map((c) => `+${c}`).join(' '))
    } catch (error) {
      const busy = errnoOf(error) === 'EBUSY'
      for (const c of ownNeeds) {
        got.delete(c)
        problems.push(
          busy
            ? {
                cap: capOf(c),
                kind: 'failed',
                reason: `cannot enable ${c} in ${own}: processes that are not ours remain in it (EBUSY)`,
              }
            : problemFromError(capOf(c), `cannot enable ${c} in ${own}/cgroup.subtree_control`, error),
        )
      }
    }
  }
  ensureDir(io, base)
  const baseEnabled = tokens(tryRead(io, join(base, 'cgroup.subtree_control')))
  const baseNeeds = [...got].filter((c) => !baseEnabled.has(c))
  if (baseNeeds.length > 0) {
    try {
      io.write(join(base, 'cgroup.subtree_control'), baseNeeds.map((c) => `+${c}`).join(' '))
    } catch (error) {
      for (const c of baseNeeds) {
        got.delete(c)
        problems.push(problemFromError(capOf(c), `cannot enable ${c} in ${base}/cgroup.subtree_control`, error))
      }
    }
  }
  return got
}

/** One problem per cap is enough; the first says why. */
function relevant(problems: Problem[]): Problem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const key = `${p.cap}:${p.kind}:${p.reason}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export interface V2Context {
  /** Text of /proc/self/cgroup (tests). */
  selfCgroup?: string
}

export function openV2(
  mounts: CgroupMounts,
  name: string,
  limits: CgroupLimits,
  io: CgroupIo,
  context: V2Context = {},
): OpenResult {
  const problems: Problem[] = []
  const capOf = (c: string): Cap | null => (limits[c as Cap] !== undefined ? (c as Cap) : null)
  let own = ownCgroupDir(mounts, context.selfCgroup)
  let base = join(own, PARENT)
  let dir = join(base, name)
  // memory and pids for figures always; cpu only for a cap (cpu.stat needs no controller).
  const wanted = limits.cpu === undefined ? ['memory', 'pids'] : ['memory', 'pids', 'cpu']

  const attempt = (): Set<string> | undefined => {
    const known = prepared.get(base)
    if (known === undefined || !wanted.every((c) => known.has(c))) {
      let got: Set<string>
      try {
        got = prepare(own, mounts, wanted, io, problems, capOf)
      } catch (error) {
        const top = mounts.unified ?? mounts.root
        if (error instanceof BusyCgroup && own !== top) {
          // Root in a cgroup we do not own (a systemd service or session):
          // the true root is exempt from the rule and already has the
          // controllers enabled by systemd. Leave the others alone.
          own = top
          base = join(own, PARENT)
          dir = join(base, name)
          return attempt()
        }
        problems.push(
          error instanceof BusyCgroup
            ? { cap: null, kind: 'failed', reason: `cannot enable controllers: ${error.message}` }
            : error instanceof NotDelegated
              ? { cap: null, kind: 'denied', reason: error.message }
              : problemFromError(null, `cannot prepare ${base}`, error),
        )
        return undefined
      }
      if (wanted.every((c) => got.has(c))) prepared.set(base, got)
    }
    try {
      mkdirSandbox(io, dir)
    } catch (error) {
      problems.push(problemFromError(null, `cannot create ${dir}`, error))
      return undefined
    }
    return tokens(tryRead(io, join(dir, 'cgroup.controllers')))
  }

  let controllers = attempt()
  if (controllers === undefined) return { driver: undefined, problems: relevant(problems) }
  if (prepared.has(base) && !wanted.every((c) => controllers?.has(c))) {
    // Someone reset our parent since we prepared it: prepare again.
    prepared.delete(base)
    removeCgroupDir(io, dir)
    controllers = attempt()
    if (controllers === undefined) return { driver: undefined, problems: relevant(problems) }
  }
  const has = controllers

  const enforced: EnforcedCaps = { ...NO_CAPS }
  const set = (cap: Cap, writes: [string, string][]): void => {
    if (!has.has(cap)) {
      if (!problems.some((p) => p.cap === cap)) {
        problems.push({ cap, kind: 'missing', reason: `the ${cap} controller is not enabled for ${dir}` })
      }
      return
    }
    try {
      for (const [file, value] of writes) io.write(join(dir, file), value)
      enforced[cap] = true
    } catch (error) {
      problems.push(problemFromError(cap, `cannot set the ${cap} cap in ${dir}`, error))
    }
  }
  if (limits.memory !== undefined) {
    const writes: [string, string][] = [['memory.max', String(limits.memory)]]
    // Without it a sandbox could swap out past the cap.
    if (io.exists(join(dir, 'memory.swap.max'))) writes.push(['memory.swap.max', '0'])
    set('memory', writes)
  }
  if (limits.pids !== undefined) set('pids', [['pids.max', String(limits.pids)]])
  if (limits.cpu !== undefined) {
    const quota = Math.max(1000, Math.round(limits.cpu * CFS_PERIOD_US))
    set('cpu', [['cpu.max', `${quota} ${CFS_PERIOD_US}`]])
  }

  const warnings: string[] = []
  const hasMemoryPeak = has.has('memory') && io.exists(join(dir, 'memory.peak'))
  const hasPidsPeak = has.has('pids') && io.exists(join(dir, 'pids.peak'))
  if (has.has('memory') && !hasMemoryPeak)
    warnings.push('memory.peak is missing (kernel before 5.19): no peak memory figure')
  if (has.has('pids') && !hasPidsPeak) warnings.push('pids.peak is missing (kernel before 6.1): no peak pids figure')
  const hasKill = io.exists(join(dir, 'cgroup.kill'))
  const hasEvents = io.exists(join(dir, 'cgroup.events'))
  const procs = join(dir, 'cgroup.procs')
  let removed = false

  const driver: CgroupDriver = {
    layout: 'v2',
    procsFiles: [procs],
    enforced,
    warnings,
    read(): CgroupUsage {
      const stat = tryRead(io, join(dir, 'cpu.stat'))
      const u = keyedValue(stat, 'user_usec')
      const s = keyedValue(stat, 'system_usec')
      const memoryPeakBytes = hasMemoryPeak ? (singleValue(tryRead(io, join(dir, 'memory.peak'))) ?? null) : null
      return {
        cpuUserMs: u === undefined ? null : u / 1000,
        cpuSystemMs: s === undefined ? null : s / 1000,
        memoryPeakBytes,
        // memory.peak counts page cache charged to the cgroup, as v1 does.
        memoryPeakIncludesCache: memoryPeakBytes !== null,
        pidsPeak: hasPidsPeak ? (singleValue(tryRead(io, join(dir, 'pids.peak'))) ?? null) : null,
        // memory.events is hierarchical: a grandchild's OOM kill counts.
        oomKills: has.has('memory') ? (keyedValue(tryRead(io, join(dir, 'memory.events')), 'oom_kill') ?? 0) : 0,
        source: 'cgroup',
      }
    },
    kill(round) {
      if (hasKill) io.write(join(dir, 'cgroup.kill'), '1')
      else if (io.exists(join(dir, 'cgroup.freeze'))) {
        // Before 5.14: freeze, SIGKILL each, thaw.
        io.write(join(dir, 'cgroup.freeze'), '1')
        for (let waited = 0; waited < 200; waited++) {
          if (keyedValue(tryRead(io, join(dir, 'cgroup.events')), 'frozen') !== 0) break
          sleepSync(1)
        }
        for (const pid of readPids(io, procs)) killPid(pid)
        io.write(join(dir, 'cgroup.freeze'), '0')
      }
      if (round > 0 || !hasKill) for (const pid of readPids(io, procs)) killPid(pid)
    },
    isEmpty() {
      if (hasEvents) {
        const populated = keyedValue(tryRead(io, join(dir, 'cgroup.events')), 'populated')
        if (populated !== undefined) return populated === 0
      }
      return readPids(io, procs).length === 0
    },
    remove() {
      if (removed) return true
      removed = removeCgroupDir(io, dir)
      return removed
    },
  }
  return { driver, problems: relevant(problems) }
}
