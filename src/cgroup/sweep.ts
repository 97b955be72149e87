/**
 * Sandbox cgroup names, and the sweep of those a dead runner left behind
 * (SIGKILLed runner, power loss). A name starts with the runner's pid, so a
 * later run can tell whose it was.
 */
import { readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { CgroupDriver } from './driver.ts'
import { removeCgroupDir } from './driver.ts'
import { drainSync } from './handle.ts'
import { type CgroupIo, isAlive, killPid, readPids, realIo } from './io.ts'
import { type CgroupMounts, DEFAULT_ROOT, readCgroupMounts, readSelfCgroup, sandboxBase } from './layout.ts'
import { freezeKillThaw, PARENT } from './v1.ts'
import { ownCgroupDir } from './v2.ts'

let counter = 0
let ownPidNs: string | undefined

/**
 * The inode of this process's PID namespace. A runner's pid means something
 * only in its own PID namespace: a runner inside a sandbox (a nested
 * `isolate()`) sees none of the host's pids, and must not take the host
 * runners' sandboxes for a dead runner's.
 */
export function pidNamespaceId(): string {
  if (ownPidNs === undefined) {
    try {
      ownPidNs = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0'
    } catch {
      ownPidNs = '0'
    }
  }
  return ownPidNs
}

/** `<runnerPid>-<pidNamespace>-<counter>-<rand>[-<label>]`: unique, and says whose it is. */
export function sandboxCgroupName(label: string, pid = process.pid, pidNs = pidNamespaceId()): string {
  const rand = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0')
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48)
  return `${pid}-${pidNs}-${counter++}-${rand}${safe ? `-${safe}` : ''}`
}

/** The runner (pid and PID namespace) a sandbox cgroup name starts with. */
export function ownerOf(name: string): { pid: number; pidNs: string } | undefined {
  const m = /^(\d+)-(\d+)-\d+-/.exec(name)
  return m?.[1] === undefined || m[2] === undefined ? undefined : { pid: Number(m[1]), pidNs: m[2] }
}

/** The `ns-isolated` parent directories of every hierarchy we use. */
export function parentDirs(mounts: CgroupMounts, io: CgroupIo = realIo): string[] {
  if (mounts.layout === 'v2') {
    // Under our own cgroup, and under the root's, where a runner in a cgroup
    // shared with processes not its own puts them (see v2.ts).
    const top = mounts.unified ?? mounts.root
    return [...new Set([join(ownCgroupDir(mounts), PARENT), join(top, PARENT)])]
  }
  const self = readSelfCgroup(io)
  const dirs = new Set<string>()
  for (const [controller, mount] of mounts.v1) dirs.add(join(sandboxBase(mount, controller, self), PARENT))
  if (mounts.unified !== undefined) dirs.add(join(sandboxBase(mounts.unified, '', self), PARENT))
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
 * Only the cgroups of runners in this process's PID namespace are judged
 * (see `pidNamespaceId`); those of a nested runner live under its own
 * sandbox's cgroup and go with it (`removeCgroupDir` is recursive).
 */
export function sweepStaleCgroups(root: string = DEFAULT_ROOT, io: CgroupIo = realIo, mountinfo?: string): number {
  const mounts = readCgroupMounts(root, mountinfo, io)
  if (mounts.layout === 'none') return 0
  const byName = new Map<string, string[]>()
  const ownNs = pidNamespaceId()
  for (const parent of parentDirs(mounts, io)) {
    let names: string[]
    try {
      names = io.subdirs(parent)
    } catch {
      continue
    }
    for (const n of names) {
      const owner = ownerOf(n)
      // Another PID namespace's runner: its pid says nothing here.
      if (owner === undefined || owner.pidNs !== ownNs) continue
      if (owner.pid === io.pid || isAlive(owner.pid)) continue
      const list = byName.get(n) ?? []
      list.push(join(parent, n))
      byName.set(n, list)
    }
  }
  let removed = 0
  for (const dirs of byName.values()) if (drainSync(staleDriver(dirs, io))) removed++
  // The shared parents themselves, where nothing is left in them (a runner
  // killed by a signal runs no exit hook): EBUSY while another runner's
  // sandboxes are there; a runner that finds its parent gone recreates it.
  for (const parent of parentDirs(mounts, io)) {
    try {
      io.rmdir(parent)
    } catch {}
  }
  return removed
}
