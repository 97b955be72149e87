import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { tags } from '../tags.ts'

// The cgroup v2 suite, run INSIDE a VM with a real pure-v2 kernel by
// scripts/run-tests.mjs (`npm test`, `npm run test:v2`) through
// scripts/v2vm/run.sh: test/v2, and the test/cgroup files that hold on
// every layout, to prove them on v2 as well. One worker: the VM has one vCPU.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: [
      'test/v2/**/*.test.ts',
      'test/cgroup/{layout,join,lifecycle,memory-cap,pids-cap,cpu-cap,figures,rootless}.test.ts',
      'test/sandbox/cgroupfs.test.ts',
      'test/sandbox/syscalls.test.ts',
    ],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    tags,
  },
})
