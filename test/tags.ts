/**
 * Tags of our tests (vitest.config.ts, test/v2/vitest.config.ts): a tag says
 * why a test cannot run everywhere, and skips it where it cannot. `npm test`
 * lists every skipped test with its tag's description (scripts/run-tests.mjs).
 */
const isRoot = process.getuid?.() === 0

export const tags = [
  {
    name: 'root',
    description:
      'needs root: real cgroup caps and hierarchies (an unprivileged user has no writable cgroup on cgroup v1), or files and mounts only root can set up',
    skip: !isRoot,
  },
]
