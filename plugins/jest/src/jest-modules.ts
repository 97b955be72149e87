/**
 * Jest's own modules (jest-runner, jest-worker, jest-environment-node), taken
 * from the Jest that is running rather than from whatever copy this package
 * would resolve. The runner forks jest-runner's `testWorker.js`, and the
 * environment extends jest-environment-node: both must be of the user's Jest
 * (29 or 30), whose config, worker protocol and runtime they share. A
 * dependency or peer dependency of this package cannot promise that (npm may
 * place another copy where this package resolves first); the running Jest's
 * own modules can. Used on both sides:
 * - in the runner's process, from @jest/core (it loaded this runner);
 * - in a sandboxed worker, from jest-runner (its `testWorker.js` is the
 *   worker's entry, and it loads the environment).
 * Where neither is loaded (a tool requiring these files by hand), plain
 * resolution from this package.
 */
import { createRequire } from 'node:module'

const RUNNER = /[\\/]node_modules[\\/]jest-runner[\\/]build[\\/][^\\/]+\.js$/
const CORE = /[\\/]node_modules[\\/]@jest[\\/]core[\\/]build[\\/][^\\/]+\.js$/

let cached: NodeJS.Require | undefined

/** `require` as the running Jest's jest-runner sees it (jest-runner itself, and everything it depends on). */
export function requireFromJestRunner(): NodeJS.Require {
  if (cached) return cached
  const loaded = Object.keys(require.cache)
  // jest-runner depends on jest-worker, jest-environment-node, jest-runtime, …; @jest/core on jest-runner.
  const runner = loaded.find((p) => RUNNER.test(p))
  const core = runner ? undefined : loaded.find((p) => CORE.test(p))
  if (runner) cached = createRequire(runner)
  else if (core) cached = createRequire(createRequire(core).resolve('jest-runner'))
  else cached = require
  return cached
}

/**
 * `require` as the running Jest's coverage reporter (@jest/reporters, a
 * dependency of @jest/core) sees it: for istanbul-lib-coverage, with which
 * Jest merges its files' coverage maps. Host side only (the runner's
 * process has loaded @jest/core).
 */
export function requireFromJestReporters(): NodeJS.Require {
  const core = Object.keys(require.cache).find((p) => CORE.test(p))
  const from = core ? createRequire(core) : requireFromJestRunner()
  return createRequire(from.resolve('@jest/reporters'))
}
