// Round-trip latency of isolate(): send args, run a small function, get the
// result (and, for isolate, the sandbox's usage) back. Compared in the same
// run with what a user would otherwise write:
//   - in-process: `await fn(args)`;
//   - fork: `child_process.fork` of an equivalent script (send args, get the
//     result, wait for the process to end), no namespaces;
//   - isolate cold: a fresh sandbox started for the call;
//   - isolate warm: `createIsolatePool` with a spare ready (`pool.ready()`
//     before each call, so each call finds one waiting).
// Goals: cold ≤ 1.1 × fork; warm p50 ≤ 10 ms. Prints figures; never fails on time.
//
//   node_modules/.bin/node bench/isolate.mjs [iterations]
import './node.mjs'
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIsolatePool, isolate } from '../dist/isolate/isolate.js'

const N = Number(process.argv[2] ?? 40)
const work = ({ n }) => {
  let x = 0
  for (let i = 0; i < n; i++) x += i
  return { x, at: new Date(0) }
}
const args = { n: 1000 }

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.floor(s.length * q))]
  return { p50: at(0.5), p95: at(0.95) }
}

async function measure(n, once) {
  for (let i = 0; i < Math.min(5, n); i++) await once() // warm-up: JIT, caches, cgroup parents
  const out = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await once()
    out.push(performance.now() - t)
  }
  return stats(out)
}

// The fork baseline: the same function in a script, same serialization.
const dir = mkdtempSync(join(tmpdir(), 'nsiso-bench-'))
const script = join(dir, 'child.mjs')
writeFileSync(
  script,
  `const work = ${work.toString()}\nprocess.once('message', (a) => process.send(work(a), () => process.exit(0)))\n`,
)
const forkOnce = () =>
  new Promise((resolve, reject) => {
    const c = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let value
    c.on('message', (m) => {
      value = m
    })
    c.on('error', reject)
    c.on('close', () => resolve(value))
    c.send(args)
  })

const rows = []
rows.push(['in-process', await measure(N * 10, async () => work(args))])
// fork and cold isolate alternate, so that load from elsewhere on the
// machine weighs on both alike.
const forkSamples = []
const coldSamples = []
for (let i = 0; i < 5; i++) {
  await forkOnce() // warm-up
  await isolate(work, { args })
}
for (let i = 0; i < N; i++) {
  let t = performance.now()
  await forkOnce()
  forkSamples.push(performance.now() - t)
  t = performance.now()
  await isolate(work, { args })
  coldSamples.push(performance.now() - t)
}
rows.push(['fork (no sandbox)', stats(forkSamples)])
rows.push(['isolate cold', stats(coldSamples)])
const pool = createIsolatePool({ size: 1 })
await pool.ready()
for (let i = 0; i < 5; i++) {
  await pool.run(work, { args }) // warm-up
  await pool.ready()
}
const warmSamples = []
for (let i = 0; i < N; i++) {
  await pool.ready() // not timed: the spare starts between calls
  const t = performance.now()
  await pool.run(work, { args })
  warmSamples.push(performance.now() - t)
}
rows.push(['isolate warm (pool)', stats(warmSamples)])
// Back to back, no waiting for a spare: bounded by Node's start-up per call.
const b2b = createIsolatePool({ size: 2 })
await b2b.ready()
const t0 = performance.now()
for (let i = 0; i < N; i++) await b2b.run(work, { args })
const b2bMs = (performance.now() - t0) / N
await Promise.all([pool.close(), b2b.close()])
rmSync(dir, { recursive: true, force: true })

const fmt = (v) => `${v.toFixed(2).padStart(8)} ms`
console.log(
  `isolate round trip, ${N} calls each (${process.platform} ${process.arch}, node ${process.version}, uid ${process.getuid?.()})`,
)
console.log(`${'kind'.padEnd(22)} ${'p50'.padStart(11)} ${'p95'.padStart(11)}`)
for (const [name, s] of rows) console.log(`${name.padEnd(22)} ${fmt(s.p50)} ${fmt(s.p95)}`)
const forkP50 = rows[1][1].p50
const cold = rows[2][1].p50
const warm = rows[3][1].p50
console.log(`cold / fork (p50): ${(cold / forkP50).toFixed(2)} × (goal ≤ 1.10)`)
console.log(`warm p50: ${warm.toFixed(2)} ms (goal ≤ 10 ms)`)
console.log(`pool size 2, back to back: ${b2bMs.toFixed(2)} ms per call (bounded by Node start-up / cores)`)
