import { configDefaults, defineConfig } from 'vitest/config'

// Our own tests. Sandboxes are real: many tests need root (or drop to an
// unprivileged user with setpriv for the rootless ones). test/v2 runs in a
// VM with a pure cgroup v2 kernel (test/v2/vitest.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/v2/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
