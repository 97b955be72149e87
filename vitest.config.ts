import { configDefaults, defineConfig } from 'vitest/config'
import { tags } from './test/tags.ts'

// Our own tests. Sandboxes are real: many tests need root (the rootless ones
// drop to an unprivileged user with setpriv, or run as the suite's own user
// when the suite runs unprivileged). test/v2 runs in a VM with a pure cgroup
// v2 kernel (test/v2/vitest.config.ts); test/install has a run of its own
// (vitest.install.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/v2/**', 'test/install/**'],
    // Hang guards, not speed goals: many tests run whole Jest or Vitest projects, which at a load of
    // 100 on this 2-core machine took 40-60 s (one over 60 s); the v2 VM's config uses the same.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // Why a test does not run here: `npm test` lists every skipped test with the description of its tag.
    tags,
  },
})
