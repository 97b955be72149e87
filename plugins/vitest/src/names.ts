/**
 * Names shared by the two sides (the runner's process and the sandboxed
 * worker): the environment's name, the pool's name, the env variables.
 */

/** The environment name users write (`environment: 'ns-isolated'`, `@vitest-environment ns-isolated`). */
export const ENVIRONMENT_NAME = 'ns-isolated'

/** The pool the plugin installs. Vitest refuses a custom pool named `forks`. */
export const POOL_NAME = 'ns-isolated'

/** Set by the core in every sandbox (its hostname): the worker really runs inside. */
export { INSIDE_ENV } from 'ns-isolated/sandbox'

/** Set by the plugin's pool for the worker: the leak policy of this file (`report` | `fail` | `ignore`). */
export const LEAKS_ENV = 'NS_ISOLATED_VITEST_LEAKS'

/** Set by the plugin's pool for the worker: the caps (JSON `{memory?, pids?}`) so a test that hits one fails naming it. */
export const CAPS_ENV = 'NS_ISOLATED_VITEST_CAPS'

/** Set by the plugin's pool for the worker's preload (worker/preload.ts): the URL of the Vitest that started it (`dist/index.js`). */
export const VITEST_INDEX_ENV = 'NS_ISOLATED_VITEST_INDEX'

/** The key of `task.meta` where the worker leaves its per-test figures for the runner. */
export const META_KEY = 'nsIsolated'

/**
 * Set by the plugin's pool for a worker run without namespaces (fallback: 'subreaper'): its tracker
 * reads the host's /proc, where the file's processes are those that descend from the launcher.
 */
export const NO_NAMESPACES_ENV = 'NS_ISOLATED_VITEST_NO_NAMESPACES'

/** Set by the plugin's pool for a file that runs unisolated on purpose (fallback: 'unisolated'). */
export const UNISOLATED_ENV = 'NS_ISOLATED_VITEST_UNISOLATED'

/** Set (to anything) in the runner's environment: each sandboxed worker's stop is logged (how it ended, how long it took). */
export const DEBUG_ENV = 'NS_ISOLATED_VITEST_DEBUG'

/**
 * `isolation: 'test'`: the field of the pool's `run` message that tells a sandboxed worker which test
 * of the file is its own (an index in `runnableTests` order, test-order.ts). Vitest ignores the field.
 */
export const TEST_INDEX_KEY = '__nsIsolatedTestIndex'
