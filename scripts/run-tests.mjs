#!/usr/bin/env node
// `npm test`: our test suite (vitest), then the example projects under
// examples/ as a user would run them, then one closing line:
// `tests: N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
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

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd, env: process.env })
  if (r.status !== 0) ok = false
}

const suite = join(dir, 'suite.json')
run(
  'vitest',
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${suite}`, ...process.argv.slice(2)],
  root,
)
count(suite)

if (process.argv.length <= 2) {
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

rmSync(dir, { recursive: true, force: true })
// Test workers are stopped by signals, so their exit hooks do not run: one
// last sweep removes whatever they left (stale sandbox cgroups, empty parents).
const { sweepStaleCgroups } = await import('../dist/cgroup/index.js')
sweepStaleCgroups()
const code = ok && totals.failed === 0 && totals.passed > 0 ? 0 : 1
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exit(code)
