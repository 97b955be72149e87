import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'

export default defineConfig({
  // Every file below gets its own PID, mount, network, UTS and IPC
  // namespaces, a copy-on-write root, and these caps.
  plugins: [nsIsolated({ memory: '512M', pids: 256 })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.ts'] },
})
