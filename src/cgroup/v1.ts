/**
 * cgroup v1 (and hybrid): one directory per hierarchy,
 * `<mount>/ns-isolated/<name>`. Caps and figures come from the v1
 * controllers. On hybrid the sandbox also joins the controller-less cgroup2
 * (`<root>/unified/ns-isolated/<name>`) only for `cgroup.kill`, which kills a
 * whole tree in one write (measured here: it works on hybrid and beats
 * freeze/kill/thaw), and for CPU figures from its `cpu.stat`; plain v1 uses
 * the freezer and cpuacct.
 */
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
import { type CgroupIo, killPid, readPids, sleepSync, tryRead } from './io.ts'
import { type CgroupMounts, readSelfCgroup, sandboxBase } from './layout.ts'
import type { CgroupLimits, CgroupUsage, EnforcedCaps } from './types.ts'
import { keyedValue, singleValue, USER_HZ } from './usage.ts'

export const PARENT = 'ns-isolated'
/** CFS period: 100 ms, the kernel's default; the quota is `cores × period`. */
export const CFS_PERIOD_US = 100_000

export function openV1(mounts: CgroupMounts, name: string, limits: CgroupLimits, io: CgroupIo): OpenResult {
  const problems: Problem[] = []
  const dirs = new Map<string, string>() // controller → sandbox dir
  const created: string[] = []
  const byMount = new Map<string, string>() // mount point → sandbox dir (co-mounted controllers share it)

  const self = readSelfCgroup(io)
  const join1 = (controller: string, cap: Cap | null): string | undefined => {
    const mount = mounts.v1.get(controller)
    if (mount === undefined) {
      problems.push({ cap, kind: 'missing', reason: `no cgroup v1 hierarchy has the ${controller} controller` })
      return undefined
    }
    let dir = byMount.get(mount)
    if (dir === undefined) {
      dir = join(sandboxBase(mount, controller, self), PARENT, name)
      try {
        mkdirSandbox(io, dir)
      } catch (error) {
        problems.push(problemFromError(cap, `cannot create ${dir}`, error))
        return undefined
      }
      created.push(dir)
      byMount.set(mount, dir)
    }
    dirs.set(controller, dir)
    return dir
  }

  // Hybrid: the unified hierarchy gives cgroup.kill. Tried first so a
  // failure falls back to the freezer below.
  let unifiedDir: string | undefined
  if (mounts.unified !== undefined) {
    const dir = join(sandboxBase(mounts.unified, '', self), PARENT, name)
    try {
      mkdirSandbox(io, dir)
      created.push(dir)
      if (io.exists(join(dir, 'cgroup.kill'))) unifiedDir = dir
      else removeCgroupDir(io, created.pop() as string)
    } catch {}
  }

  // memory and pids for figures whether capped or not. CPU figures: the
  // unified hierarchy's cpu.stat (exact, no controller needed) on hybrid,
  // which saves a hierarchy per sandbox; cpuacct on plain v1.
  join1('memory', limits.memory === undefined ? null : 'memory')
  join1('pids', limits.pids === undefined ? null : 'pids')
  if (unifiedDir === undefined) join1('cpuacct', null)
  if (limits.cpu !== undefined) join1('cpu', 'cpu')
  if (unifiedDir === undefined) join1('freezer', null)

  if (created.length === 0) return { driver: undefined, problems }

  const enforced: EnforcedCaps = { ...NO_CAPS }
  const set = (cap: Cap, dir: string | undefined, writes: [string, string][]): void => {
    if (dir === undefined) return
    try {
      for (const [file, value] of writes) io.write(join(dir, file), value)
      enforced[cap] = true
    } catch (error) {
      problems.push(problemFromError(cap, `cannot set the ${cap} cap in ${dir}`, error))
    }
  }
  const memDir = dirs.get('memory')
  if (limits.memory !== undefined && memDir !== undefined) {
    const writes: [string, string][] = [['memory.limit_in_bytes', String(limits.memory)]]
    // Without memsw a sandbox could swap out past the cap. Set after the
    // plain limit: the kernel requires memsw >= limit at every moment.
    if (io.exists(join(memDir, 'memory.memsw.limit_in_bytes'))) {
      writes.push(['memory.memsw.limit_in_bytes', String(limits.memory)])
    }
    set('memory', memDir, writes)
  }
  if (limits.pids !== undefined) set('pids', dirs.get('pids'), [['pids.max', String(limits.pids)]])
  if (limits.cpu !== undefined) {
    // cfs_period_us of a new cgroup is always the kernel's 100 ms: only the quota is written.
    const quota = Math.max(1000, Math.round(limits.cpu * CFS_PERIOD_US))
    set('cpu', dirs.get('cpu'), [['cpu.cfs_quota_us', String(quota)]])
  }

  const warnings: string[] = []
  const pidsDir = dirs.get('pids')
  const hasPidsPeak = pidsDir !== undefined && io.exists(join(pidsDir, 'pids.peak'))
  if (pidsDir !== undefined && !hasPidsPeak)
    warnings.push('pids.peak is missing (kernel before 6.1): no peak pids figure')
  const acctDir = dirs.get('cpuacct')
  const hasUsageUser = acctDir !== undefined && io.exists(join(acctDir, 'cpuacct.usage_user'))
  const freezerDir = dirs.get('freezer')

  const procsFiles = created.map((d) => join(d, 'cgroup.procs'))
  const layout = mounts.layout

  const driver: CgroupDriver = {
    layout,
    procsFiles,
    enforced,
    warnings,
    read(): CgroupUsage {
      let cpuUserMs: number | null = null
      let cpuSystemMs: number | null = null
      if (acctDir !== undefined) {
        if (hasUsageUser) {
          const u = singleValue(tryRead(io, join(acctDir, 'cpuacct.usage_user')))
          const s = singleValue(tryRead(io, join(acctDir, 'cpuacct.usage_sys')))
          if (u !== undefined) cpuUserMs = u / 1e6
          if (s !== undefined) cpuSystemMs = s / 1e6
        } else {
          const stat = tryRead(io, join(acctDir, 'cpuacct.stat'))
          const u = keyedValue(stat, 'user')
          const s = keyedValue(stat, 'system')
          if (u !== undefined) cpuUserMs = (u * 1000) / USER_HZ
          if (s !== undefined) cpuSystemMs = (s * 1000) / USER_HZ
        }
      } else if (unifiedDir !== undefined) {
        // The unified hierarchy's cpu.stat exists without any controller.
        const stat = tryRead(io, join(unifiedDir, 'cpu.stat'))
        const u = keyedValue(stat, 'user_usec')
        const s = keyedValue(stat, 'system_usec')
        if (u !== undefined) cpuUserMs = u / 1000
        if (s !== undefined) cpuSystemMs = s / 1000
      }
      let memoryPeakBytes: number | null = null
      let oomKills = 0
      if (memDir !== undefined) {
        memoryPeakBytes = singleValue(tryRead(io, join(memDir, 'memory.max_usage_in_bytes'))) ?? null
        oomKills = keyedValue(tryRead(io, join(memDir, 'memory.oom_control')), 'oom_kill') ?? 0
      }
      const pidsPeak = hasPidsPeak ? (singleValue(tryRead(io, join(pidsDir, 'pids.peak'))) ?? null) : null
      return {
        cpuUserMs,
        cpuSystemMs,
        memoryPeakBytes,
        // v1 charges page cache to the cgroup: max_usage_in_bytes counts it.
        memoryPeakIncludesCache: memoryPeakBytes !== null,
        pidsPeak,
        oomKills,
        source: 'cgroup',
      }
    },
    kill(round) {
      if (unifiedDir !== undefined) {
        io.write(join(unifiedDir, 'cgroup.kill'), '1')
      } else if (freezerDir !== undefined) {
        freezeKillThaw(io, freezerDir)
      }
      if (round > 0 || (unifiedDir === undefined && freezerDir === undefined)) {
        // Stragglers (a task in some hierarchies but not the killed one), or no
        // clean mechanism at all: SIGKILL each pid listed anywhere.
        for (const f of procsFiles) for (const pid of readPids(io, f)) killPid(pid)
      }
    },
    isEmpty() {
      for (const f of procsFiles) if (readPids(io, f).length > 0) return false
      return true
    },
    remove() {
      let all = true
      for (let i = created.length - 1; i >= 0; i--) {
        const dir = created[i] as string
        if (removeCgroupDir(io, dir)) created.splice(i, 1)
        else all = false
      }
      return all
    },
  }
  return { driver, problems }
}

/**
 * The v1 way to kill a tree without racing its forks: freeze it (nothing can
 * fork or exit while frozen, so the pids read stay valid), SIGKILL each, thaw
 * (frozen tasks die only once thawed).
 */
export function freezeKillThaw(io: CgroupIo, freezerDir: string): void {
  const state = join(freezerDir, 'freezer.state')
  io.write(state, 'FROZEN')
  for (let waited = 0; waited < 200; waited++) {
    if ((tryRead(io, state) ?? '').trim() !== 'FREEZING') break
    sleepSync(1)
  }
  for (const pid of readPids(io, join(freezerDir, 'cgroup.procs'))) killPid(pid)
  io.write(state, 'THAWED')
}
