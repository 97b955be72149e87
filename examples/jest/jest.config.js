// One line turns it on: every test file runs in its own namespaces, with the
// usage report printed after Jest's own output.
//
// Caps need a cgroup this user may write to: root's, or one systemd delegates
// (cgroup v2). Without one (a rootless run on cgroup v1), 'warn' runs the files
// uncapped and says so, where the default ('error') would fail each of them.
// user: 'root' makes the tests root inside the sandbox when Jest runs rootless
// too (by default they run as you there), so system.test.js may write /etc.
module.exports = {
  preset: 'jest-environment-ns-isolated',
  testEnvironmentOptions: {
    memory: '1G',
    pids: 256,
    unenforceable: process.getuid?.() === 0 ? 'error' : 'warn',
    user: 'root',
  },
}
