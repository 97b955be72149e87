import { defineConfig } from 'vitest/config'

// Our own tests. Sandboxes are real: many tests need root (or drop to an
// unprivileged user with setpriv for the rootless ones).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
