/**
 * The `ns-isolated` Vitest environment (`environment: 'ns-isolated'` or
 * `// @vitest-environment ns-isolated`). It is Node's environment: the
 * isolation itself happened before this code ran, when the plugin's pool
 * started the worker inside fresh namespaces. Here the worker only checks
 * that it really is inside, so a config without the plugin fails loudly
 * instead of running the file unisolated.
 */
import type { Environment } from 'vitest/runtime'
import { ENVIRONMENT_NAME, INSIDE_ENV, UNISOLATED_ENV } from './names.ts'

function notInSandbox(): Error {
  return new Error(
    "ns-isolated: this file asks for the 'ns-isolated' environment, but it is not running in a sandbox: the plugin that installs the ns-isolated pool is missing, or the project runs in a pool it cannot stand in for (vmThreads, vmForks, a custom pool; the plugin warned at start). " +
      "Add it to vitest.config.ts: `import nsIsolated from 'vitest-environment-ns-isolated/plugin'` and `plugins: [nsIsolated()]` (with test.projects, in the project's config or the root's), with pool 'forks' (the default) or 'threads'.",
  )
}

const environment: Environment = {
  name: ENVIRONMENT_NAME,
  viteEnvironment: 'ssr',
  setup() {
    if (!process.env[INSIDE_ENV] && !process.env[UNISOLATED_ENV]) throw notInSandbox()
    return { teardown() {} }
  },
  // Only the vm pools call this, and a sandboxed worker never runs one: refuse with the same words
  // (without it, Vitest's own error says the environment is not valid for a vm pool).
  setupVM() {
    throw notInSandbox()
  },
}

export default environment
