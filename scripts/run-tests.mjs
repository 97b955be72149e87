#!/usr/bin/env node
// `npm test`: our test suite (vitest), then the example projects under
// examples/ as a user would run them, then the cgroup v2 suite in a VM with a
// real pure-v2 kernel (test/v2; skipped, the reason named, where the VM
// cannot run), then one closing line: `tests: N passed, N failed, N skipped`.
// `--v2` (`npm run test:v2`): the cgroup v2 suite alone; arguments after it go
// to its Vitest.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'ns-isolated-results-'))
const totals = { passed: 0, failed: 0, skipped: 0 }
let ok = true

function count(file, kind) {
  if (!existsSync(file)) {
    totals.failed += 1 // a runner that wrote no results failed to run at all
    return
  }
  const j = JSON.parse(readFileSync(file, 'utf8'))
  totals.passed += j.numPassedTests
  totals.failed += j.numFailedTests
  totals.skipped += j.numPendingTests + (j.numTodoTests ?? 0)
  // A test file that failed to load counts as a failure even with no test in it.
  totals.failed += j.testResults.filter((f) => f.status === 'failed' && (f.assertionResults?.length ?? 0) === 0).length
  if (kind) console.log(`${kind}: ${j.numPassedTests} passed, ${j.numFailedTests} failed`)
}

function run(cmd, args, cwd, env = process.env) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd, env })
  if (r.status !== 0) ok = false
}

/** Why the v2 VM cannot run here, or undefined. */
function v2Unavailable() {
  if (process.getuid?.() !== 0) return 'not root (the VM runs the suite as root, and its packages install with apt-get)'
  const check = spawnSync('bash', [join(root, 'scripts/v2vm/assets.sh'), 'check'], { encoding: 'utf8' })
  if (check.status === 0) return undefined
  return check.stdout.trim() || check.stderr.trim() || `scripts/v2vm/assets.sh check exited ${check.status}`
}

/** The cgroup v2 suite inside the VM; where it cannot run, its tests count as skipped. */
function v2Suite(args) {
  const why = v2Unavailable()
  if (why) {
    // Counted from the sources: its tests skip themselves off a pure-v2 host, and `vitest list` omits skipped ones.
    const dirV2 = join(root, 'test/v2')
    const tests = readdirSync(dirV2)
      .filter((f) => f.endsWith('.test.ts'))
      .reduce((n, f) => n + (readFileSync(join(dirV2, f), 'utf8').match(/^\s*it\(/gm)?.length ?? 0), 0)
    totals.skipped += tests
    console.log(`\n=== cgroup v2 (VM): ${tests} tests skipped: ${why}`)
    return
  }
  console.log('\n=== cgroup v2 (VM with a pure cgroup v2 kernel: scripts/v2vm/run.sh)')
  const out = join(dir, 'v2.json')
  const started = Date.now()
  run(
    'bash',
    [
      join(root, 'scripts/v2vm/run.sh'),
      '--share',
      dir,
      process.execPath,
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--config',
      'test/v2/vitest.config.ts',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${out}`,
      ...args,
    ],
    root,
    { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
  )
  const s = Math.round((Date.now() - started) / 1000)
  count(out, `cgroup v2 (VM, ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s)`)
}

const v2Only = process.argv[2] === '--v2'
const args = process.argv.slice(v2Only ? 3 : 2)
if (!v2Only) {
  const suite = join(dir, 'suite.json')
  run('vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${suite}`, ...args], root)
  count(suite)
}

if (!v2Only && args.length === 0) {
  const vitestExample = join(root, 'examples/vitest')
  if (existsSync(join(vitestExample, 'package.json'))) {
    const out = join(dir, 'example-vitest.json')
    console.log('\n=== examples/vitest')
    run(
      join(root, 'node_modules/.bin/vitest'),
      ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`],
      vitestExample,
    )
    count(out, 'examples/vitest')
  }
  const jestExample = join(root, 'examples/jest')
  if (existsSync(join(jestExample, 'package.json'))) {
    const out = join(dir, 'example-jest.json')
    console.log('\n=== examples/jest')
    run(join(root, 'node_modules/.bin/jest'), ['--json', `--outputFile=${out}`], jestExample)
    count(out, 'examples/jest')
  }
}

if (v2Only || args.length === 0) v2Suite(v2Only ? args : [])

rmSync(dir, { recursive: true, force: true })
// Test workers are stopped by signals, so their exit hooks do not run: one
// last sweep removes whatever they left (stale sandbox cgroups, empty parents).
const { sweepStaleCgroups } = await import('../dist/cgroup/index.js')
sweepStaleCgroups()
const code = ok && totals.failed === 0 && totals.passed > 0 ? 0 : 1
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exit(code)
