// Where a runner's sandboxes go on a real pure-v2 kernel, as root: the
// runner's cgroup is shared (a service, a login session, a CI step) or a
// scope of its own (systemd-run --scope). Placement is asserted as "under"
// a cgroup, never as an exact path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runSandbox } from '../../src/index.ts'
import { waitFor } from '../helpers.ts'
import {
  cgroupDirs,
  cgroupsLabelled,
  lastJson,
  makeCgroup,
  onV2AsRoot,
  ownCgroup,
  removeCgroupTree,
  startRunner,
} from './helpers.ts'

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url))

describe.runIf(onV2AsRoot)('where sandboxes go on cgroup v2 (real kernel, root)', () => {
  it('in a cgroup shared with processes not its own, the runner moves none of them, itself included', async () => {
    const mine = ownCgroup()
    const parent = ownCgroup(process.ppid) // Vitest's main process
    expect(parent).toBe(mine)
    const r = await runSandbox('sh', ['-c', 'exit 0'], { memory: '64M', pids: 32, stdio: 'ignore' })
    expect(r.caps.enforced).toMatchObject({ memory: true, pids: true })
    expect(ownCgroup()).toBe(mine)
    expect(ownCgroup(process.ppid)).toBe(parent)
  })

  it("alone in a scope of its own: its sandboxes go under the scope, and the scope's cap holds for them", async () => {
    const scope = makeCgroup(join(dirname(ownCgroup()), `job-${process.pid}.scope`))
    writeFileSync(join(scope, 'memory.max'), String(160 * 2 ** 20)) // the CI job's cap
    const dir = mkdtempSync(join(tmpdir(), 'v2-scope-'))
    const go = join(dir, 'go')
    try {
      const runner = startRunner([process.execPath, fixture('uncapped-hog.mjs'), 'v2-in-scope', go], { cgroup: scope })
      expect(await waitFor(() => cgroupsLabelled('v2-in-scope').length === 1, 120_000)).toBe(true)
      const [sandbox] = cgroupsLabelled('v2-in-scope')
      expect(sandbox?.startsWith(`${scope}/`)).toBe(true)
      writeFileSync(go, '')
      const end = await runner.exited
      expect(end.code, end.stderr).toBe(0)
      const r = lastJson<{ signal: string; usage: { oomKills: number } }>(end.stdout)
      // The sandbox asked for no memory cap; the scope's killed its hog.
      expect(r.signal).toBe('SIGKILL')
      expect(r.usage.oomKills).toBeGreaterThanOrEqual(1)
      expect(cgroupsLabelled('v2-in-scope')).toEqual([])
      // What stays is the scope's own: the leaf the runner moved into (it holds no process now).
      expect(cgroupDirs(scope).every((d) => !d.includes('v2-in-scope'))).toBe(true)
    } finally {
      removeCgroupTree(scope)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
