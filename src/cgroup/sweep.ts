/**
 * Sandbox cgroup names, and the sweep of those a dead runner left behind
 * (SIGKILLed runner, power loss). A name starts with the runner's pid, so a
 * later run can tell whose it was.
 */
import { join } from 'node:path'
import type { CgroupDriver } from './driver.ts'
import { removeCgroupDir } from './driver.ts'
import { drainSync } from './handle.ts'
import { type CgroupIo, isAlive, killPid, readPids, realIo } from './io.ts'
import { type CgroupMounts, DEFAULT_ROOT, readCgroupMounts } from './layout.ts'
import { freezeKillThaw, PARENT } from './v1.ts'
import { ownCgroupDir } from './v2.ts'

let counter = 0

/** `<runnerPid>-<counter>-<rand>[-<label>]`: unique, and says whose it is. */
export function sandboxCgroupName(label: string, pid = process.pid): string {
  const rand = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0')
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48)
  return `${pid}-${counter++}-${rand}${safe ? `-${safe}` : ''}`
}

/** The runner pid a sandbox cgroup name starts with. */
export function ownerPid(name: string): number | undefined {
  const m = /^(\d+)-/.exec(name)
  return m?.[1] === undefined ? undefined : Number(m[1])
}

/** The `ns-isolated` parent directories of every hierarchy we use. */
export function parentDirs(mounts: CgroupMounts): string[] {
  if (mounts.layout === 'v2') return [join(ownCgroupDir(mounts), PARENT)]
  const dirs = new Set<string>()
  for (const mount of mounts.v1.values()) dirs.add(join(mount, PARENT))
  if (mounts.unified !== undefined) dirs.add(join(mounts.unified, PARENT))
  return [...dirs]
}

/** A driver over directories that already exist (a dead runner's), only to kill and remove. */
function staleDriver(dirs: string[], io: CgroupIo): CgroupDriver {
  const procsFiles = dirs.map((d) => join(d, 'cgroup.procs'))
  const left = [...dirs]
  return {
    layout: 'none',
    procsFiles,
    enforced: { memory: false, pids: false, cpu: false },
    warnings: [],
    read: () => {
      throw new Error('not used')
    },
    kill(round) {
      for (const d of dirs) {
        if (io.exists(join(d, 'cgroup.kill'))) io.write(join(d, 'cgroup.kill'), '1')
        else if (io.exists(join(d, 'freezer.state'))) freezeKillThaw(io, d)
      }
      if (round > 0) for (const f of procsFiles) for (const pid of readPids(io, f)) killPid(pid)
    },
    isEmpty: () => procsFiles.every((f) => readPids(io, f).length === 0),
    remove() {
      for (let i = left.length - 1; i >= 0; i--) if (removeCgroupDir(io, left[i] as string)) left.splice(i, 1)
      return left.length === 0
    },
  }
}

/**
 * Removes the sandbox cgroups of runners that are no longer alive, killing
 * what is still inside first. Returns how many sandboxes were removed.
 * Caveat: a runner in another PID namespace sharing this cgroupfs looks dead.
 */
export function sweepStaleCgroups(root: string = DEFAULT_ROOT, io: CgroupIo = realIo, mountinfo?: string): number {
  const mounts = readCgroupMounts(root, mountinfo, io)
  if (mounts.layout === 'none') return 0
  const byName = new Map<string, string[]>()
  for (const parent of parentDirs(mounts)) {
    let names: string[]
    try {
      names = io.subdirs(parent)
    } catch {
      continue
    }
    for (const n of names) {
      const pid = ownerPid(n)
      if (pid === undefined || pid === io.pid || isAlive(pid)) continue
      const list = byName.get(n) ?? []
      list.push(join(parent, n))
      byName.set(n, list)
    }
  }
  let removed = 0
  for (const dirs of byName.values()) if (drainSync(staleDriver(dirs, io))) removed++
  return removed
}
