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

const environment: Environment = {
  name: ENVIRONMENT_NAME,
  viteEnvironment: 'ssr',
  setup() {
    if (!process.env[INSIDE_ENV] && !process.env[UNISOLATED_ENV]) {
      throw new Error(
        "ns-isolated: this file asks for the 'ns-isolated' environment, but it is not running in a sandbox: the plugin that installs the ns-isolated pool is missing. " +
          "Add it to vitest.config.ts: `import nsIsolated from 'vitest-environment-ns-isolated/plugin'` and `plugins: [nsIsolated()]` (with test.projects, in the project's config or the root's).",
      )
    }
    return { teardown() {} }
  },
}

export default environment
