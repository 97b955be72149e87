import { defineConfig } from 'vitest/config'

// The install tests (test/install): the release tarballs installed from the
// registry into new projects outside the repository, as a user would, with
// every supported runner. Slow (npm installs): its own run in `npm test`
// (scripts/run-tests.mjs), after the suite.
export default defineConfig({
  test: {
    include: ['test/install/**/*.test.ts'],
    globalSetup: ['test/install/setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
