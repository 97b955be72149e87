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
// same Node; the namespace-free mode against a plain spawn; and whether the cost stays flat over many consecutive sandboxes.
import './node.mjs'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
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
const noNamespaces = (cmd, args) => sandboxedWith((c, a, o) => runSandbox(c, a, { ...o, namespaces: false }), cmd, args)

const launcher = launcherPath()
const cases = {
  'unshare -pmnui --fork --mount-proc true': () => run('unshare', ['-pmnui', '--fork', '--mount-proc', 'true']),
  'launcher (namespaces + PID 1) true': () => run(launcher, ['--', '/bin/true']),
  'full sandbox true': () => sandboxed('/bin/true', []),
  'node -e 0': () => run(process.execPath, ['-e', '0']),
  'sandboxed node -e 0': () => sandboxed(process.execPath, ['-e', '0']),
  // The namespace-free mode (fallback 'subreaper'): what a host that refuses namespaces gets.
  true: () => run('/bin/true', []),
  'no-namespaces sandbox true': () => noNamespaces('/bin/true', []),
  'no-namespaces node -e 0': () => noNamespaces(process.execPath, ['-e', '0']),
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
const free = m('no-namespaces node -e 0') - m('node -e 0')
console.log(
  `no-namespaces node / plain node:    ${(m('no-namespaces node -e 0') / m('node -e 0')).toFixed(3)}x (+${free.toFixed(2)} ms per Node start; true: +${(m('no-namespaces sandbox true') - m('true')).toFixed(2)} ms)`,
)

if (baseline) {
  for (const k of ['full sandbox true', 'sandboxed node -e 0']) {
    const d = m(k) - m(`${k} (baseline)`)
    console.log(
      `${`${k} vs baseline:`.padEnd(36)}${d >= 0 ? '+' : ''}${d.toFixed(2)} ms per sandbox (${(m(k) / m(`${k} (baseline)`)).toFixed(3)}x)`,
    )
  }
  // CPU, which a busy machine does not stretch as it stretches wall time: the
  // runner's own (prepare, the fork, finish) and its reaped children's (the
  // launcher and the whole sandbox tree), from /proc/self/stat, in blocks of 10.
  const cpuNow = () => {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number)
    // utime + stime, cutime + cstime, in 10 ms ticks
    return { runner: (f[11] + f[12]) * 10, tree: (f[13] + f[14]) * 10 }
  }
  const cpu = { current: { runner: 0, tree: 0 }, baseline: { runner: 0, tree: 0 } }
  for (let r = 0; r < rounds; r++) {
    for (const [k, run] of [
      ['current', runSandbox],
      ['baseline', baseline],
    ]) {
      const before = cpuNow()
      for (let i = 0; i < 10; i++) await sandboxedWith(run, '/bin/true', [])
      const after = cpuNow()
      cpu[k].runner += after.runner - before.runner
      cpu[k].tree += after.tree - before.tree
    }
  }
  const n = rounds * 10
  const per = (k) => (cpu[k].runner + cpu[k].tree) / n
  const split = (k) => `runner ${(cpu[k].runner / n).toFixed(2)} + tree ${(cpu[k].tree / n).toFixed(2)}`
  const diff = per('current') - per('baseline')
  console.log(
    `CPU per full sandbox (true):        ${per('current').toFixed(2)} ms (${split('current')}) vs baseline ${per('baseline').toFixed(2)} ms (${split('baseline')}): ${diff >= 0 ? '+' : ''}${diff.toFixed(2)} ms; ${n} each, interleaved in blocks of 10`,
  )
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
