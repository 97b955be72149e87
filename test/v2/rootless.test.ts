// Rootless with a delegated subtree, on a real pure-v2 kernel: a cgroup
// owned by the user with the controllers enabled down to it, as systemd's
// user@.service gives (Delegate=yes). Without delegation:
// test/cgroup/rootless.test.ts, which runs here too.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { SandboxResult } from '../../src/index.ts'
import { CGROUP_ROOT, cgroupDirs, lastJson, makeCgroup, onV2AsRoot, removeCgroupTree, startRunner } from './helpers.ts'

const RUNNER = fileURLToPath(new URL('./fixtures/rootless-runner.mjs', import.meta.url))
const NOBODY = 65534
const MiB = 2 ** 20
type Seen = Pick<SandboxResult, 'strategy' | 'code' | 'signal' | 'caps' | 'usage'>

describe.runIf(onV2AsRoot)('rootless in a delegated cgroup v2 subtree (real kernel)', () => {
  it('caps are enforced and the figures are the cgroup’s', async () => {
    // systemd's shape (user.slice/user-N.slice/user@N.service), under a slice of the test's own.
    const slice = join(CGROUP_ROOT, `ns-isolated-test-${process.pid}.slice`)
    const delegated = makeCgroup(join(slice, `user-${NOBODY}.slice`, `user@${NOBODY}.service`), NOBODY)
    const home = mkdtempSync(join(tmpdir(), 'v2-rootless-'))
    chmodSync(home, 0o777)
    try {
      const runner = startRunner([process.execPath, RUNNER], { cgroup: delegated, uid: NOBODY, env: { HOME: home } })
      const end = await runner.exited
      expect(end.code, end.stderr).toBe(0)
      const { hog, figures, self } = lastJson<{ hog: Seen; figures: Seen; self: string }>(end.stdout)
      // The runner stayed in its delegated subtree (in a leaf of it: the no-internal-processes rule).
      expect(`${CGROUP_ROOT}${self.replace(/^0::/, '')}`.startsWith(`${delegated}/`)).toBe(true)

      expect(hog.strategy).toBe('rootless')
      expect(hog.caps.enforced).toEqual({ memory: true, pids: true, cpu: true })
      expect(hog.signal).toBe('SIGKILL')
      expect(hog.caps.hit).toEqual([expect.objectContaining({ cap: 'memory', limit: 128 * MiB })])
      expect(hog.usage.source).toBe('cgroup')
      expect(hog.usage.oomKills).toBeGreaterThanOrEqual(1)
      expect(hog.usage.memoryPeakBytes).toBeLessThanOrEqual(128 * MiB)
      expect(hog.usage.memoryPeakBytes).toBeGreaterThan(100 * MiB)

      expect(figures.code).toBe(0)
      expect(figures.caps.hit).toEqual([])
      expect(figures.usage.source).toBe('cgroup')
      expect(figures.usage.memoryPeakBytes).toBeGreaterThanOrEqual(100 * MiB)
      expect(figures.usage.memoryPeakBytes).toBeLessThan(256 * MiB)
      expect(figures.usage.pidsPeak).toBeGreaterThanOrEqual(5) // PID 1, node, 3 sleeps
      expect(figures.usage.cpuUserMs).toBeGreaterThan(0)
      // Nothing of the sandboxes is left in the subtree.
      expect(cgroupDirs(delegated).filter((d) => /\/\d+-\d+-\d+-[0-9a-f]{4}/.test(d))).toEqual([])
    } finally {
      removeCgroupTree(slice)
      rmSync(home, { recursive: true, force: true })
    }
  })
})
