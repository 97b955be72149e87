// Cost of a sandbox's cgroup: open (mkdir in each hierarchy + memory, pids
// and cpu caps) + read + close (kill check, rmdir), per sandbox. Goal ≤ 1 ms.
// Compared in the same run with the obvious alternative a user would write:
// `mkdir` + `echo` limits + `rmdir` through a shell (cgcreate-style).
// Prints figures; never fails on time.
//
//   node_modules/.bin/node bench/cgroup.mjs [iterations]
import './node.mjs'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmdirSync } from 'node:fs'

// Imported after node.mjs's check: an older Node cannot load TypeScript at all.
const { detectCgroupLayout, openSandboxCgroup } = await import('../src/cgroup/index.ts')

const N = Number(process.argv[2] ?? 500)
const limits = { memory: 256 * 2 ** 20, pids: 256, cpu: 1 }
const options = { rootless: false, unenforceable: 'error' }

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]
  return { mean, p95 }
}

// Warm-up: creates the ns-isolated parents, JIT.
for (let i = 0; i < 20; i++) await openSandboxCgroup('bench', limits, options)?.close()

const ours = []
for (let i = 0; i < N; i++) {
  const t = performance.now()
  const cg = openSandboxCgroup('bench', limits, options)
  cg?.read()
  await cg?.close()
  ours.push(performance.now() - t)
}

// The shell way, as a baseline (fewer iterations: it is slow).
const layout = detectCgroupLayout()
const shellN = Math.min(N, 50)
const shell = []
if (layout === 'v1' || layout === 'hybrid') {
  const d = (h) => `/sys/fs/cgroup/${h}/ns-isolated/bench-shell-${process.pid}`
  const script = `mkdir ${d('memory')} ${d('pids')} ${d('cpu')} ${d('cpuacct')} &&
echo ${limits.memory} > ${d('memory')}/memory.limit_in_bytes && echo ${limits.pids} > ${d('pids')}/pids.max &&
echo 100000 > ${d('cpu')}/cpu.cfs_quota_us && cat ${d('cpuacct')}/cpuacct.usage ${d('memory')}/memory.max_usage_in_bytes > /dev/null &&
rmdir ${d('memory')} ${d('pids')} ${d('cpu')} ${d('cpuacct')}`
  // The shared parents exist only while something uses them (the library
  // removes empty ones): make the missing ones for the baseline, remove them after.
  const parents = ['memory', 'pids', 'cpu', 'cpuacct'].map((h) => `/sys/fs/cgroup/${h}/ns-isolated`)
  const made = parents.filter((p) => !existsSync(p))
  for (const p of made) mkdirSync(p)
  try {
    for (let i = 0; i < shellN; i++) {
      const t = performance.now()
      execFileSync('sh', ['-c', script])
      shell.push(performance.now() - t)
    }
  } finally {
    // A script that failed half-way leaves its directories: remove them too.
    for (const h of ['memory', 'pids', 'cpu', 'cpuacct']) if (existsSync(d(h))) rmdirSync(d(h))
    for (const p of made) rmdirSync(p)
  }
}

const a = stats(ours)
console.log(`layout: ${layout}; caps: memory+pids+cpu; ${N} sandboxes`)
console.log(
  `ns-isolated open+limit+read+close: mean ${a.mean.toFixed(3)} ms, p95 ${a.p95.toFixed(3)} ms per sandbox (goal ≤ 1 ms)`,
)
if (shell.length > 0) {
  const b = stats(shell)
  console.log(
    `shell mkdir/echo/cat/rmdir (${shellN}x): mean ${b.mean.toFixed(3)} ms, p95 ${b.p95.toFixed(3)} ms; ratio ${(b.mean / a.mean).toFixed(1)}x`,
  )
}
