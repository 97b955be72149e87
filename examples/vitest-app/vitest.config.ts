import { defineConfig, mergeConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'
import stock from './vitest.stock.config.ts'

// The same config with the plugin: `environments: 'all'` sandboxes every
// file whatever its environment (the component test's jsdom included), so
// nothing in the tests changes.
export default mergeConfig(
  stock,
  defineConfig({
    plugins: [nsIsolated({ environments: 'all' })],
  }),
)
