#!/usr/bin/env node
// Sandbox start-up cost, as ratios against what a user would use instead,
// measured interleaved in one run (absolute times drift on noisy machines).
//   bench/sandbox.mjs [--rounds N] [--long N] [--baseline DIR]
// --baseline DIR: also runs the full sandbox from another built checkout
// (e.g. a `git worktree` of the previous release), interleaved, and prints
// what the change costs per sandbox.
// Prints: launcher vs `unshare -pmnui --fork --mount-proc` (and bwrap where
// installed) running /bin/true; a full sandbox (overlay root, /proc, /dev, lo)
// running /bin/true; a Node child through the sandbox vs a plain spawn of the
// same Node; and whether the cost stays flat over many consecutive sandboxes.
import './node.mjs'
import { spawn, spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { launcherPath } from '../dist/host/launcher-binary.js'
import { runSandbox } from '../dist/index.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '60' },
    long: { type: 'string', default: '1000' },
    baseline: { type: 'string' },
  },
})
const rounds = Number(values.rounds)
const long = Number(values.long)

const run = (cmd, args) =>
  new Promise((resolve, reject) => {
    const t = performance.now()
    const c = spawn(cmd, args, { stdio: 'ignore' })
    c.on('error', reject)
    c.on('close', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`))))
  })
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const baseline = values.baseline
  ? (await import(`${values.baseline.replace(/\/$/, '')}/dist/index.js`)).runSandbox
  : undefined
const sandboxedWith = async (run, cmd, args) => {
  const t = performance.now()
  const r = await run(cmd, args, { stdio: 'ignore' })
  if (r.code !== 0) throw new Error(`sandbox exited ${r.code}`)
  return performance.now() - t
}
const sandboxed = (cmd, args) => sandboxedWith(runSandbox, cmd, args)

const launcher = launcherPath()
const cases = {
  'unshare -pmnui --fork --mount-proc true': () => run('unshare', ['-pmnui', '--fork', '--mount-proc', 'true']),
  'launcher (namespaces + PID 1) true': () => run(launcher, ['--', '/bin/true']),
  'full sandbox true': () => sandboxed('/bin/true', []),
  'node -e 0': () => run(process.execPath, ['-e', '0']),
  'sandboxed node -e 0': () => sandboxed(process.execPath, ['-e', '0']),
}
if (baseline) {
  cases['full sandbox true (baseline)'] = () => sandboxedWith(baseline, '/bin/true', [])
  cases['sandboxed node -e 0 (baseline)'] = () => sandboxedWith(baseline, process.execPath, ['-e', '0'])
}
if (has('bwrap')) {
  cases['bwrap --unshare-all --die-with-parent --dev --proc --tmpfs true'] = () =>
    run('bwrap', [
      '--unshare-all',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--tmpfs',
      '/tmp',
      'true',
    ])
}

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
for (const fn of Object.values(cases)) await fn() // warm up
for (let i = 0; i < rounds; i++) for (const [k, fn] of Object.entries(cases)) samples[k].push(await fn())

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
const p95 = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.95)]
console.log(`rounds: ${rounds} (interleaved)\n`)
for (const [k, a] of Object.entries(samples))
  console.log(`${k.padEnd(64)} median ${median(a).toFixed(2)} ms  p95 ${p95(a).toFixed(2)} ms`)
const m = (k) => median(samples[k])
console.log('')
console.log(
  `launcher / unshare(1):              ${(m('launcher (namespaces + PID 1) true') / m('unshare -pmnui --fork --mount-proc true')).toFixed(2)}x`,
)
if (samples['bwrap --unshare-all --die-with-parent --dev --proc --tmpfs true']) {
  console.log(
    `full sandbox / bwrap:               ${(m('full sandbox true') / m('bwrap --unshare-all --die-with-parent --dev --proc --tmpfs true')).toFixed(2)}x`,
  )
}
const added = m('sandboxed node -e 0') - m('node -e 0')
console.log(
  `sandboxed node / plain node:        ${(m('sandboxed node -e 0') / m('node -e 0')).toFixed(3)}x (+${added.toFixed(2)} ms per Node start)`,
)

if (baseline) {
  for (const k of ['full sandbox true', 'sandboxed node -e 0']) {
    const d = m(k) - m(`${k} (baseline)`)
    console.log(
      `${`${k} vs baseline:`.padEnd(36)}${d >= 0 ? '+' : ''}${d.toFixed(2)} ms per sandbox (${(m(k) / m(`${k} (baseline)`)).toFixed(3)}x)`,
    )
  }
}

// Flat over many consecutive sandboxes? (net namespace teardown is serialised in the kernel)
const times = []
for (let i = 0; i < long; i++) times.push(await sandboxed('/bin/true', []))
const tenth = Math.max(1, Math.floor(long / 10))
const first = median(times.slice(0, tenth))
const last = median(times.slice(-tenth))
console.log(
  `\n${long} consecutive sandboxes: first ${tenth} median ${first.toFixed(2)} ms, last ${tenth} median ${last.toFixed(2)} ms (ratio ${(last / first).toFixed(2)})`,
)
