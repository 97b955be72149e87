#!/usr/bin/env node
// What naming each leak's test costs a test: inside one sandbox, the
// per-test work of a runner's tracker without attribution (a /proc scan at
// the test's start and end, and the command lines of the processes new at
// its end, as the trackers did) and with it (the same scans, the test's
// marker set in the environment, every new process read as a test: its
// environment, its ancestors, its start time), interleaved in one run. Two kinds of test: one that starts nothing, and one that leaves a
// process running (whose environment the tracker then reads).
//   bench/attribution.mjs [--tests N]
import './node.mjs'
import { parseArgs } from 'node:util'
import { spawnSandbox } from '../dist/index.js'

const { values } = parseArgs({ options: { tests: { type: 'string', default: '2000' } } })
const tests = Number(values.tests)
const sandboxIndex = new URL('../dist/sandbox/index.js', import.meta.url).href

const INSIDE = `
import { commandOf, LeakAttribution, sandboxProcesses, sandboxCpuMs } from '${sandboxIndex}'
import { spawn } from 'node:child_process'
const tests = ${tests}
const track = new LeakAttribution()
const kinds = {
  'starts nothing': async () => {},
  'leaves a process running': async () => {
    const c = spawn('sleep', ['1000'], { stdio: 'ignore' })
    await new Promise((r) => c.once('spawn', r))
    return c
  },
}
// Before: what a tracker did around a test (Vitest's): a scan at its start, one at its end, and the
// processes new since, with their command lines. After: the same scans, read by LeakAttribution.
const modes = {
  before: async (body) => {
    const start = sandboxProcesses(); sandboxCpuMs(start)
    const c = await body()
    const end = sandboxProcesses(); sandboxCpuMs(end)
    const known = new Set(start.map((p) => p.pid))
    end.filter((p) => !known.has(p.pid)).map((p) => commandOf(p.pid))
    return c
  },
  after: async (body, i) => {
    track.testStarts(String(i)); sandboxCpuMs(sandboxProcesses())
    const c = await body()
    const end = sandboxProcesses(); sandboxCpuMs(end)
    track.testEnds(end)
    return c
  },
}
const out = {}
for (const [kind, body] of Object.entries(kinds)) {
  const cost = { before: { cpu: 0, wall: 0 }, after: { cpu: 0, wall: 0 } }
  for (let i = 0; i < tests; i++) {
    for (const [mode, run] of i % 2 ? Object.entries(modes) : Object.entries(modes).reverse()) {
      const c0 = process.cpuUsage(); const t0 = performance.now()
      const child = await run(body, i)
      const c = process.cpuUsage(c0); cost[mode].cpu += (c.user + c.system) / 1000; cost[mode].wall += performance.now() - t0
      if (child) { child.kill('SIGKILL'); await new Promise((r) => child.once('exit', r)) }
    }
  }
  out[kind] = cost
}
console.log(JSON.stringify(out))
`

let text = ''
const s = spawnSandbox(process.execPath, ['--input-type=module', '-e', INSIDE], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
s.child.stdout.on('data', (d) => {
  text += d
})
await s.result
const out = JSON.parse(text)
const us = (ms) => `${((ms * 1000) / tests).toFixed(0)} µs`
console.log(`per test, ${tests} tests of each kind, interleaved (worker CPU; wall)`)
for (const [kind, c] of Object.entries(out)) {
  console.log(
    `  ${kind.padEnd(26)} before ${us(c.before.cpu)} (${us(c.before.wall)})  after ${us(c.after.cpu)} (${us(c.after.wall)})  attribution +${us(c.after.cpu - c.before.cpu)} CPU`,
  )
}
