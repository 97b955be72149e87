import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { removeEmptyParents } from '../../src/cgroup/driver.ts'
import { makeHandle } from '../../src/cgroup/handle.ts'
import { openSandboxCgroup, type SandboxCgroup, sweepStaleCgroups } from '../../src/cgroup/index.ts'
import { realIo } from '../../src/cgroup/io.ts'
import { readCgroupMounts } from '../../src/cgroup/layout.ts'
import { openSandboxCgroupWith } from '../../src/cgroup/open.ts'
import { pidNamespaceId, sandboxCgroupName } from '../../src/cgroup/sweep.ts'
import { openV1 } from '../../src/cgroup/v1.ts'
import { waitFor } from '../helpers.ts'
import { cgroupDirs, leftoverCgroups, startIn, tracker } from './helpers.ts'

const t = tracker()
const strays: string[] = []
afterEach(async () => {
  await t.closeAll()
  for (const d of strays.splice(0)) if (existsSync(d)) throw new Error(`left behind: ${d}`)
  expect(leftoverCgroups()).toEqual([])
})

const OPTS = { rootless: false, unenforceable: 'error' } as const

it('leaves no cgroup after 200 open/close cycles', { tags: ['root'] }, async () => {
  for (let i = 0; i < 200; i++) {
    const cg = openSandboxCgroup('cycle', { memory: 64 * 2 ** 20, pids: 32, cpu: 1 }, OPTS)
    if (!cg) throw new Error('no cgroup')
    cg.read()
    await cg.close()
  }
  expect(leftoverCgroups()).toEqual([])
})

it('killAll kills every process, orphans included; close is idempotent and removes every directory', {
  tags: ['root'],
}, async () => {
  const cg = t.track(openSandboxCgroup('killall', {}, OPTS))
  if (!cg) throw new Error('no cgroup')
  // Orphans: the backgrounded sleeps outlive the sh that started them.
  const { exited } = startIn(cg, `sh -c 'for i in 1 2 3 4 5 6 7 8; do (sleep 60 &) ; done; exec sleep 60'`)
  const inside = () =>
    readFileSync(cg.procsFiles[0] as string, 'utf8')
      .split('\n')
      .filter(Boolean).length
  expect(await waitFor(() => inside() >= 9, 30_000)).toBe(true)
  await cg.killAll()
  for (const f of cg.procsFiles) expect(readFileSync(f, 'utf8')).toBe('')
  await exited
  const [a, b] = await Promise.all([cg.close(), cg.close()])
  expect(b).toBe(a)
  expect(await cg.close()).toBe(a)
  for (const f of cg.procsFiles) expect(existsSync(f)).toBe(false)
})

/** The directories that hold this process's sandbox cgroups, one per hierarchy: found from a live one. */
function sandboxParents(cg: SandboxCgroup): string[] {
  const mine = new RegExp(`^${process.pid}-\\d+-\\d+-`)
  return cg.procsFiles.map((f) => {
    let dir = dirname(f)
    while (!mine.test(basename(dir))) dir = dirname(dir)
    return dirname(dir)
  })
}

it("sweepStaleCgroups removes a dead runner's cgroups next to ours (and kills what is inside), not a live one's", {
  tags: ['root'],
}, async () => {
  const live = t.track(openSandboxCgroup('live', {}, OPTS))
  if (!live) throw new Error('no cgroup')
  // The runner that owns the stale cgroups: alive (so no sweep, ours or another test file's, takes
  // them) until everything is in place, then gone.
  const owner = spawn('sleep', ['1000'], { stdio: 'ignore' })
  const ownerGone = new Promise((r) => owner.once('close', r))
  const dead = `${owner.pid}-${pidNamespaceId()}-0-beef-stale`
  // Where a runner like us would have left them: beside our own sandboxes.
  const dirs = sandboxParents(live).map((p) => join(p, dead))
  try {
    for (const d of dirs) {
      mkdirSync(d)
      strays.push(d)
    }
    mkdirSync(join(dirs[0] as string, 'nested')) // a sandbox may have made child cgroups
    // Something still running in the stale cgroup.
    const { exited, joined } = startIn({ procsFiles: dirs.map((d) => join(d, 'cgroup.procs')) }, 'sleep 60')
    expect(await joined).toBe(true)
    owner.kill('SIGKILL')
    await ownerGone
    // Every sandbox start sweeps: another test file may get there first; either way what is inside is
    // killed and the directories are gone.
    sweepStaleCgroups()
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' })
    for (const d of dirs) expect(existsSync(d)).toBe(false)
    for (const f of live.procsFiles) expect(existsSync(f)).toBe(true)
  } finally {
    owner.kill('SIGKILL')
  }
})

it("leaves the sandboxes of another PID namespace's runner alone (its pid means nothing here)", {
  tags: ['root'],
}, async () => {
  const live = t.track(openSandboxCgroup('live', {}, OPTS))
  if (!live) throw new Error('no cgroup')
  const foreign = sandboxParents(live).map((p) => join(p, '4194399-1-0-abcd-foreign')) // no PID namespace has inode 1
  for (const d of foreign) mkdirSync(d)
  sweepStaleCgroups()
  for (const d of foreign) expect(existsSync(d)).toBe(true)
  for (const d of foreign) rmdirSync(d)
})

it('recreates the shared ns-isolated parent when someone removed it', { tags: ['root'] }, async () => {
  // The host's shared parent is in use by every runner on it, so the kernel refuses its removal
  // (EBUSY) while any other has a sandbox: this runner is placed, as a nested runner is, under a
  // cgroup of its own in every hierarchy (its /proc/self/cgroup says so), whose parent nobody else uses.
  const mounts = readCgroupMounts()
  const own = `${process.pid}-${pidNamespaceId()}-0-0000-own`
  const tops = [...new Set([...mounts.v1.values(), ...(mounts.unified ? [mounts.unified] : [])])]
  const homes = tops.map((m) => join(m, 'ns-isolated', own))
  const sharedMade = tops.map((m) => join(m, 'ns-isolated')).filter((d) => !existsSync(d))
  for (const h of homes) {
    mkdirSync(h, { recursive: true })
    strays.push(h)
  }
  const self = readFileSync('/proc/self/cgroup', 'utf8').replace(/^(\d+:[^:]*:).*$/gm, `$1/ns-isolated/${own}`)
  const io = { ...realIo, read: (p: string) => (p === '/proc/self/cgroup' ? self : realIo.read(p)) }
  const internals = { io, selfCgroup: self }
  const a = openSandboxCgroupWith('a', { pids: 10 }, OPTS, internals)
  if (!a) throw new Error('no cgroup')
  const parents = sandboxParents(a)
  expect(parents.every((p) => homes.includes(dirname(p)))).toBe(true)
  await a.close()
  // Another runner (or an admin) removed the shared parent: nothing of anyone's is in it, so it goes.
  for (const p of parents) rmdirSync(p)
  const b = openSandboxCgroupWith('b', { pids: 10 }, OPTS, internals)
  expect(b?.enforced.pids).toBe(true)
  for (const p of parents) expect(existsSync(p)).toBe(true)
  await b?.close()
  for (const p of parents) rmdirSync(p)
  for (const h of homes) rmdirSync(h)
  for (const d of sharedMade) {
    try {
      rmdirSync(d) // made here; another runner's sandboxes may have moved in since (EBUSY): theirs then
    } catch {}
  }
})

it('the last runner out removes the empty shared parent; one still in use stays', { tags: ['root'] }, async () => {
  const a = openSandboxCgroup('a', { pids: 10 }, OPTS)
  const b = openSandboxCgroup('b', { pids: 10 }, OPTS)
  if (!a || !b) throw new Error('no cgroup')
  const parents = sandboxParents(b)
  await a.close()
  removeEmptyParents()
  for (const p of parents) expect(existsSync(p)).toBe(true) // b is still there: EBUSY
  await b.close()
  // Gone, unless another runner's sandboxes are in it (another test file's):
  // the kernel refused then, so try again once theirs may be gone.
  const settled = () => {
    removeEmptyParents()
    return parents.every((p) => !existsSync(p) || cgroupDirs(p).length > 0)
  }
  expect(await waitFor(settled, 60_000)).toBe(true)
})

// A hybrid host with its cgroup2 hidden takes the v1-only path; a pure-v2 host has no v1.
it('plain v1 (no unified hierarchy): cpuacct figures and freeze/SIGKILL/thaw, for real', {
  tags: ['root'],
}, async (ctx) => {
  if (readCgroupMounts().v1.size === 0) ctx.skip('no cgroup v1 hierarchy on this host (pure cgroup v2)')
  const mounts = { ...readCgroupMounts(), layout: 'v1' as const, unified: undefined }
  const { driver, problems } = openV1(mounts, sandboxCgroupName('v1only'), { memory: 256 * 2 ** 20, pids: 64 }, realIo)
  expect(problems).toEqual([])
  if (!driver) throw new Error('no cgroup')
  const cg = t.track(makeHandle(driver, []))
  expect(cg.procsFiles.some((f) => f.includes('/freezer/'))).toBe(true)
  expect(cg.procsFiles.some((f) => f.includes('/cpuacct/'))).toBe(true)
  const { exited } = startIn(
    cg,
    `sh -c 'for i in 1 2 3 4; do (sleep 60 &); done; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 60'`,
  )
  // The loop is done when all five are sleeps: the four backgrounded, and the shell exec'd.
  const sleeping = () => {
    const pids = readFileSync(cg.procsFiles[0] as string, 'utf8')
      .split('\n')
      .filter(Boolean)
    const cmd = (p: string) => (existsSync(`/proc/${p}/cmdline`) ? readFileSync(`/proc/${p}/cmdline`, 'utf8') : '')
    return pids.length === 5 && pids.every((p) => cmd(p).startsWith('sleep\0'))
  }
  expect(await waitFor(sleeping, 30_000)).toBe(true)
  await cg.killAll()
  for (const f of cg.procsFiles) expect(readFileSync(f, 'utf8')).toBe('')
  await exited
  const usage = await cg.close()
  expect(usage.cpuUserMs).toBeGreaterThan(0)
  expect(usage.pidsPeak).toBeGreaterThanOrEqual(5)
  for (const f of cg.procsFiles) expect(existsSync(f)).toBe(false)
})
