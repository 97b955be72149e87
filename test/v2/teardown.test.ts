// Teardown on a real pure-v2 kernel: cgroup.kill, many sandboxes, a runner
// killed with SIGKILL. "Nothing left" means the cgroup tree is as it was.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { removeEmptyParents } from '../../src/cgroup/driver.ts'
import { sweepStaleCgroups } from '../../src/cgroup/index.ts'
import { readCgroupMounts } from '../../src/cgroup/layout.ts'
import { openDriver } from '../../src/cgroup/open.ts'
import { sandboxCgroupName } from '../../src/cgroup/sweep.ts'
import { runSandbox } from '../../src/index.ts'
import { cappedDir, FORKBOMB, leftoverCgroups, startIn } from '../cgroup/helpers.ts'
import { waitFor } from '../helpers.ts'
import { cgroupDirs, onV2AsRoot, startRunner } from './helpers.ts'

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url))
const populated = (dir: string) => /^populated 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'))

/** The tree as a runner that has exited leaves it: its empty shared parents removed (its exit hook). */
function treeAfterExit(): string[] {
  removeEmptyParents()
  return cgroupDirs()
}

describe.runIf(onV2AsRoot)('teardown on cgroup v2 (real kernel)', () => {
  it('one write to cgroup.kill empties a sandbox: a fork bomb and its orphans', async () => {
    const { driver } = openDriver(readCgroupMounts(), sandboxCgroupName('kill'), { pids: 64 })
    if (!driver) throw new Error('no cgroup')
    const procs = driver.procsFiles[0] as string
    expect(existsSync(join(dirname(procs), 'cgroup.kill'))).toBe(true)
    // Two fork bombs, one of them orphaned; neither ends on its own (see FORKBOMB), so the first dies of the kill.
    const { exited } = startIn(driver, `sh -c "(${FORKBOMB} &); exec ${FORKBOMB}"`)
    const capped = cappedDir(procs, 'pids.max') as string
    const refused = () => Number(readFileSync(join(capped, 'pids.events'), 'utf8').split(' ')[1]) > 0
    expect(await waitFor(refused, 60_000)).toBe(true)
    driver.kill(0) // round 0 is cgroup.kill alone: no pid is signalled one by one
    expect(await waitFor(() => driver.isEmpty(), 30_000)).toBe(true)
    expect((await exited).signal).toBe('SIGKILL')
    expect(await waitFor(() => driver.remove(), 60_000)).toBe(true)
  })

  it('50 sandboxes, every fifth leaving a process behind, leave the cgroup tree as it was', async () => {
    const before = treeAfterExit()
    for (let i = 0; i < 50; i += 5) {
      await Promise.all(
        [0, 1, 2, 3, 4].map((j) =>
          runSandbox('sh', ['-c', j === 0 ? 'sleep 600 & exit 0' : 'exit 0'], {
            memory: '64M',
            pids: 32,
            cpu: 0.5,
            stdio: 'ignore',
          }).then((r) => expect(r.leaked.length).toBe(j === 0 ? 1 : 0)),
        ),
      )
    }
    expect(leftoverCgroups()).toEqual([])
    expect(treeAfterExit()).toEqual(before)
  })

  it('a SIGKILLed runner: its sandboxes die with it, and the next run sweeps their cgroups away', async () => {
    const before = treeAfterExit()
    const runner = startRunner([process.execPath, fixture('runner.mjs'), '3', 'v2-killed'])
    expect(await runner.printed(/ready/)).toBe(true)
    const theirs = leftoverCgroups(runner.pid)
    expect(theirs).toHaveLength(3)
    process.kill(runner.pid, 'SIGKILL')
    await runner.exited
    // The launchers die with their runner (PDEATHSIG), and every process of
    // each PID namespace with its PID 1; the cgroups stay, empty.
    expect(await waitFor(() => theirs.every((d) => !populated(d)), 30_000)).toBe(true)
    expect(theirs.filter((d) => existsSync(d))).toHaveLength(3)
    // Every run sweeps once as it starts (a runner in the same cgroup as this one).
    expect(sweepStaleCgroups()).toBe(3)
    expect(treeAfterExit()).toEqual(before)
  })
})
