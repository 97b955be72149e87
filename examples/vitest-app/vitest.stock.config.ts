import { defineConfig } from 'vitest/config'

// The app's own config, as it was before ns-isolated: files run in Node,
// the component test picks jsdom in its docblock.
export default defineConfig({
  test: { environment: 'node', include: ['test/**/*.test.ts'] },
})
