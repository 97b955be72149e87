#!/usr/bin/env node
// Sandbox start-up cost, as ratios against what a user would use instead,
// measured interleaved in one run (absolute times drift on noisy machines).
//   bench/sandbox.mjs [--rounds N] [--long N] [--baseline DIR [--between DIR]...]
// --baseline DIR: also runs the full sandbox from another built checkout
// (e.g. a `git worktree` of the previous release), interleaved, and prints
// what the change costs per sandbox. --between DIR (repeatable, oldest
// first): built checkouts of commits in between, run in the same blocks, so
// each step's cost is told apart from the others'.
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
    between: { type: 'string', multiple: true, default: [] },
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
const load = async (dir) => (await import(`${dir.replace(/\/$/, '')}/dist/index.js`)).runSandbox
const baseline = values.baseline ? await load(values.baseline) : undefined
// Each build loaded adds its own exit hooks (its cgroups' parents are removed at exit).
process.setMaxListeners(10 + 2 * values.between.length)
/** The builds whose CPU is compared, oldest first: the baseline, those in between, this checkout. */
const builds = baseline
  ? [
      { name: 'baseline', run: baseline },
      ...(await Promise.all(values.between.map(async (dir) => ({ name: dir, run: await load(dir) })))),
      { name: 'current', run: runSandbox },
    ]
  : []
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
  const cpu = new Map(builds.map((b) => [b, { runner: 0, tree: 0, walls: [] }]))
  for (let r = 0; r < rounds; r++) {
    // A new order each round, so no build always follows the same one.
    const order = builds.map((b) => [Math.random(), b]).sort((x, y) => x[0] - y[0])
    for (const [, b] of order) {
      const c = cpu.get(b)
      const before = cpuNow()
      for (let i = 0; i < 10; i++) c.walls.push(await sandboxedWith(b.run, '/bin/true', []))
      const after = cpuNow()
      c.runner += after.runner - before.runner
      c.tree += after.tree - before.tree
    }
  }
  const n = rounds * 10
  const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`
  console.log(`\nCPU per full sandbox (true), ${n} each, interleaved in blocks of 10 (ms; wall: median):`)
  let previous
  for (const b of builds) {
    const c = cpu.get(b)
    const total = (c.runner + c.tree) / n
    const step = previous
      ? `  ${signed(total - previous.total)} CPU, ${signed(median(c.walls) - previous.wall)} wall on the one before`
      : ''
    console.log(
      `  ${b.name.padEnd(30)} ${total.toFixed(2)} (runner ${(c.runner / n).toFixed(2)} + tree ${(c.tree / n).toFixed(2)}), wall ${median(c.walls).toFixed(2)}${step}`,
    )
    previous = { total, wall: median(c.walls) }
  }
  const first = cpu.get(builds[0])
  const last = cpu.get(builds.at(-1))
  console.log(
    `CPU per full sandbox (true):        ${signed((last.runner + last.tree - first.runner - first.tree) / n)} ms against the baseline`,
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
