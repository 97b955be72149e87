import { defineConfig } from 'vitest/config'
import nsIsolated from 'vitest-environment-ns-isolated/plugin'

// Caps need a cgroup this user may write to: root's, or one systemd delegates
// (cgroup v2). Without one (a rootless run on cgroup v1), 'warn' runs the
// tests uncapped and says so, where the default ('error') would fail them.
const unenforceable = process.getuid?.() === 0 ? 'error' : 'warn'

export default defineConfig({
  // Every *test* below gets its own PID, mount, network, UTS and IPC
  // namespaces, a copy-on-write root and a cgroup with these caps: its
  // figures in the report are exact. The file's top-level code runs once per
  // test. One file can ask for it alone instead:
  //   // @vitest-environment-options { "isolation": "test" }
  plugins: [nsIsolated({ isolation: 'test', memory: '512M', pids: 256, unenforceable })],
  test: { environment: 'ns-isolated', include: ['test/**/*.test.ts'] },
})
