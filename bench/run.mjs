#!/usr/bin/env node
// Runs every benchmark in bench/ in turn. They print ratios measured in one
// run against what a user would use instead; none of them fails on time.
import './node.mjs'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
for (const name of ['sandbox', 'cgroup', 'isolate', 'vitest', 'vitest-per-test', 'jest']) {
  const file = join(here, `${name}.mjs`)
  if (!existsSync(file)) continue
  console.log(`\n=== bench/${name}.mjs`)
  spawnSync(process.execPath, [file, ...process.argv.slice(2)], { stdio: 'inherit' })
}
