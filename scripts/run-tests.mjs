#!/usr/bin/env node
// Runs the test suite (vitest, our own tests) and the examples, then prints
// one closing line: `tests: N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(tmpdir(), 'ns-isolated-results-'))
const out = join(dir, 'vitest.json')
const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)]
const r = spawnSync('vitest', args, { stdio: 'inherit', env: process.env })
let passed = 0
let failed = 0
let skipped = 0
if (existsSync(out)) {
  const j = JSON.parse(readFileSync(out, 'utf8'))
  passed = j.numPassedTests
  failed = j.numFailedTests
  skipped = j.numPendingTests + (j.numTodoTests ?? 0)
  // A file that failed to load counts as a failure even with no test in it.
  failed += j.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length
}
rmSync(dir, { recursive: true, force: true })
const code = r.status === 0 && failed === 0 && passed > 0 ? 0 : 1
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(code)
