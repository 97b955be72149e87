// isolate() inside a sandbox, on a real pure-v2 kernel, as root: the inner
// sandboxes' cgroups sit under the outer sandbox's, the outer cap holds for
// them, and the outer sandbox's teardown takes them along.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { spawnSandbox } from '../../src/index.ts'
import { leftoverCgroups } from '../cgroup/helpers.ts'
import { waitFor } from '../helpers.ts'
import { cgroupsLabelled, onV2AsRoot } from './helpers.ts'

const NESTED = fileURLToPath(new URL('./fixtures/nested.mjs', import.meta.url))
const MiB = 2 ** 20

describe.runIf(onV2AsRoot)('nested isolate() on cgroup v2 (real kernel)', () => {
  it('inner cgroups under the outer, the outer cap holds for them, the outer teardown removes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-nested-'))
    try {
      const outer = spawnSandbox(process.execPath, [NESTED, dir], {
        memory: '256M',
        hostname: 'v2-outer',
        writable: [dir],
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let stdout = ''
      outer.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        stdout += d
      })
      expect(await waitFor(() => existsSync(join(dir, 'ready')), 180_000), stdout).toBe(true)
      // The first inner sandbox asked for no memory cap: the outer's stopped it.
      expect(JSON.parse(stdout.trim().split('\n')[0] as string).hog).not.toBe('returned')
      const [outerCgroup] = cgroupsLabelled('v2-outer')
      const inner = cgroupsLabelled('v2-inner-wait')
      expect(outerCgroup).toBeDefined()
      expect(inner).toHaveLength(1)
      expect(inner[0]?.startsWith(`${outerCgroup}/`)).toBe(true)
      // Kill the outer sandbox's launcher: its runner then tears it down, and
      // the inner runner (inside it) is dead, so only that teardown can remove the inner cgroups.
      outer.child.kill('SIGKILL')
      const result = await outer.result
      expect(result.signal).toBe('SIGKILL')
      expect(result.usage.oomKills).toBeGreaterThanOrEqual(1) // the inner hog's kill counts in the outer
      expect(result.caps.hit).toEqual([expect.objectContaining({ cap: 'memory', limit: 256 * MiB })])
      expect(result.usage.memoryPeakBytes).toBeLessThanOrEqual(256 * MiB)
      expect(cgroupsLabelled('v2-outer')).toEqual([])
      expect(cgroupsLabelled('v2-inner-wait')).toEqual([])
      expect(cgroupsLabelled('v2-inner-hog')).toEqual([])
      expect(leftoverCgroups()).toEqual([])
      expect(existsSync(join(dir, 'unreachable'))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
