// The host's cgroupfs, from a sandbox as root: nothing of it is writable. On
// cgroup v1 and hybrid the sandbox sees the host's hierarchy read-only; on v2
// with nsdelegate a cgroup namespace of its own (this file also runs in the
// v2 VM: test/v2/vitest.config.ts). Witnesses: a cgroup and a sleep made here.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { delegableCgroups, pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { attempt, probeDir, shellInside } from './probes.ts'

const dir = probeDir('nsiso-cgfs-')

/** Runs a shell script in a sandbox; its \`k=v\` lines. */
const inside = async (script: string) =>
  (await shellInside(script, { cwd: dir.path, env: { ...process.env, PROBE: dir.probe } })).v

describe('cgroupfs (root)', { tags: ['root'] }, () => {
  it("cannot write the host's cgroupfs: no kill of a host cgroup, no cap changed, no way out of its own", async () => {
    const sleep = uniqueSleep()
    const name = `nsiso-witness-${process.pid}`
    const pidsDir = join('/sys/fs/cgroup', delegableCgroups ? '' : 'pids', name)
    const killDir = join('/sys/fs/cgroup', delegableCgroups ? '' : 'unified', name)
    mkdirSync(pidsDir)
    if (!existsSync(killDir)) mkdirSync(killDir)
    const witness = spawn('sleep', [sleep], { stdio: 'ignore' })
    try {
      await new Promise((r) => witness.once('spawn', r))
      writeFileSync(join(pidsDir, 'cgroup.procs'), String(witness.pid))
      if (killDir !== pidsDir) writeFileSync(join(killDir, 'cgroup.procs'), String(witness.pid))
      const own = delegableCgroups
        ? '/sys/fs/cgroup'
        : '/sys/fs/cgroup/pids$(grep :pids: /proc/self/cgroup | cut -d: -f3)'
      const v = await inside(
        [
          attempt('kill', `echo 1 > ${killDir}/cgroup.kill`),
          attempt('cap', `echo 5 > ${pidsDir}/pids.max`),
          attempt('mkdir', `mkdir ${pidsDir}/x`),
          attempt('own_cap', `echo 100000 > ${own}/pids.max`),
          attempt('release_agent', 'echo /bin/true > /sys/fs/cgroup/pids/release_agent'),
          'before=$(cat /proc/self/cgroup)',
          attempt('leave', `echo $$ > ${delegableCgroups ? '/sys/fs/cgroup/..' : '/sys/fs/cgroup/pids'}/cgroup.procs`),
          'test "$before" = "$(cat /proc/self/cgroup)" && echo same_cgroup=yes',
          // and no cgroup namespace to mount a fresh cgroupfs from, where the caps sit in its own cgroup
          'echo cgroupns=$($PROBE unshare-cgroupns)',
        ].join('; '),
      )
      expect(v).toMatchObject({
        kill: 'refused',
        cap: 'refused',
        mkdir: 'refused',
        own_cap: 'refused',
        release_agent: 'refused',
        leave: 'refused',
        same_cgroup: 'yes',
      })
      if (!delegableCgroups) expect(v.cgroupns).toBe('EPERM')
      expect(pidsWithMarker(sleep)).toEqual([witness.pid])
      expect(readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim()).toBe('max')
      expect(existsSync(join(pidsDir, 'x'))).toBe(false)
    } finally {
      witness.kill('SIGKILL')
      await new Promise((r) => witness.once('exit', r))
      for (const d of new Set([pidsDir, killDir])) rmdirSync(d)
    }
  })
})
