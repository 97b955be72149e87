import { defineConfig } from 'vitest/config'

// Our own tests. Sandboxes are real: many tests need root (the rootless ones
// drop to an unprivileged user with setpriv, or run as the suite's own user
// when the suite runs unprivileged).
const isRoot = process.getuid?.() === 0

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The install tests have a run of their own (vitest.install.config.ts).
    exclude: ['test/install/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Why a test does not run here: `npm test` lists every skipped test with the description of its tag.
    tags: [
      {
        name: 'root',
        description:
          'needs root: real cgroup caps and hierarchies (an unprivileged user has no writable cgroup on cgroup v1), or files and mounts only root can set up',
        skip: !isRoot,
      },
    ],
  },
})
