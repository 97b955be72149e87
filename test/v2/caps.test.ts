// Caps and figures of whole sandboxes on a real pure-v2 kernel: what the
// kernel did (an OOM kill, a refused fork, throttling) is what the result
// reports. (test/cgroup/{memory-cap,pids-cap,cpu-cap,figures}.test.ts run
// here too: the cgroup module alone.)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnSandbox } from '../../src/index.ts'
import { cpuThrottling, leftoverCgroups } from '../cgroup/helpers.ts'
import { waitFor } from '../helpers.ts'
import { cgroupsLabelled, onV2AsRoot } from './helpers.ts'

const MiB = 2 ** 20
const node = process.execPath

/** Runs `node -e script` in a sandbox; resolves with the result and what it printed. */
async function sandboxed(script: string, options: Parameters<typeof spawnSandbox>[2]) {
  const sandbox = spawnSandbox(node, ['-e', script], { ...options, stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  sandbox.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  const result = await sandbox.result
  return { result, stdout }
}

describe.runIf(onV2AsRoot)('caps on cgroup v2 (real kernel)', () => {
  it('memory: a hog is OOM-killed at the cap; the result says so with the kernel’s figures', async () => {
    const { result } = await sandboxed('const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1))', { memory: '128M' })
    expect(result.signal).toBe('SIGKILL')
    expect(result.caps.enforced.memory).toBe(true)
    expect(result.caps.hit).toEqual([expect.objectContaining({ cap: 'memory', limit: 128 * MiB })])
    expect(result.usage.source).toBe('cgroup')
    expect(result.usage.oomKills).toBeGreaterThanOrEqual(1)
    // memory.peak: the tree's peak charge, which the cap bounds and the hog reached.
    expect(result.usage.memoryPeakBytes).toBeLessThanOrEqual(128 * MiB)
    expect(result.usage.memoryPeakBytes).toBeGreaterThan(100 * MiB)
    expect(leftoverCgroups()).toEqual([])
  })

  it('pids: forks beyond the cap are refused; the result says the cap was reached, pidsPeak = the cap', async () => {
    // Spawns 60 sleeps and reports, once every spawn has answered, how many the kernel refused.
    const script = `const { spawn } = require('node:child_process')
let answered = 0, refused = 0
const done = () => { if (++answered === 60) { console.log(JSON.stringify({ refused })); process.exit(0) } }
for (let i = 0; i < 60; i++) spawn('sleep', ['600'], { stdio: 'ignore' }).on('spawn', done).on('error', () => { refused++; done() })`
    const { result, stdout } = await sandboxed(script, { pids: 24 })
    expect(result.code).toBe(0)
    expect(JSON.parse(stdout).refused).toBeGreaterThan(0)
    expect(result.caps.enforced.pids).toBe(true)
    expect(result.caps.hit).toEqual([expect.objectContaining({ cap: 'pids', limit: 24 })])
    expect(result.usage.pidsPeak).toBe(24) // pids.peak
    expect(result.leaked.length).toBeGreaterThan(0) // the sleeps that did start, killed and reported
    expect(leftoverCgroups()).toEqual([])
  })

  it('cpu: a burner under cpu 0.5 is throttled, by its cgroup’s own counters (cpu.stat), not by wall time', async () => {
    // Burns 600 ms of CPU, says so, and waits for its stdin to close.
    const script = `const t = process.cpuUsage()
while (process.cpuUsage(t).user < 600_000);
console.log('burnt')
process.stdin.resume().on('end', () => process.exit(0))`
    const sandbox = spawnSandbox(node, ['-e', script], {
      cpu: 0.5,
      hostname: 'v2-cpu',
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    let stdout = ''
    sandbox.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    expect(await waitFor(() => stdout.includes('burnt'), 120_000)).toBe(true)
    const [dir] = cgroupsLabelled('v2-cpu')
    if (dir === undefined) throw new Error('no sandbox cgroup')
    const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8')
    const usageMs = Number(/^usage_usec (\d+)$/m.exec(stat)?.[1]) / 1000
    const { periods, throttled, throttledMs } = cpuThrottling({ procsFiles: [join(dir, 'cgroup.procs')] })
    sandbox.child.stdin?.end()
    const result = await sandbox.result
    expect(result.code).toBe(0)
    expect(result.caps.enforced.cpu).toBe(true)
    expect(throttled).toBeGreaterThan(0)
    expect(throttledMs).toBeGreaterThan(0)
    expect(usageMs).toBeGreaterThan(600)
    // At most half of each 100 ms period in which it had work.
    expect(usageMs / (periods * 100)).toBeLessThan(0.6)
  })

  it('figures under no cap: memory.peak and pids.peak of the whole tree, CPU from cpu.stat', async () => {
    // 150 MiB held while 5 children run.
    const script = `const { spawn } = require('node:child_process')
const held = Buffer.alloc(150 << 20, 1)
let up = 0
const kids = Array.from({ length: 5 }, () => spawn('sleep', ['600'], { stdio: 'ignore' }).on('spawn', () => {
  if (++up === 5) { for (const k of kids) k.kill(); console.log(held.length) }
}))`
    const { result, stdout } = await sandboxed(script, {})
    expect(result.code).toBe(0)
    expect(Number(stdout)).toBe(150 * MiB)
    expect(result.usage.source).toBe('cgroup')
    expect(result.usage.memoryPeakIncludesCache).toBe(true)
    expect(result.usage.memoryPeakBytes).toBeGreaterThanOrEqual(150 * MiB)
    expect(result.usage.memoryPeakBytes).toBeLessThan(300 * MiB)
    // PID 1, node and the 5 sleeps were alive at once (node's threads count too).
    expect(result.usage.pidsPeak).toBeGreaterThanOrEqual(7)
    expect(result.usage.cpuUserMs).toBeGreaterThan(0)
    expect(result.usage.oomKills).toBe(0)
    expect(result.caps.hit).toEqual([])
  })
})
