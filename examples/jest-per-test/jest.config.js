// isolation: 'test': every test in its own fresh sandbox (namespaces, root,
// /tmp, hostname, cgroup), with the file's module scope and the hooks
// around it. It costs one sandboxed worker start per test: choose it for the
// files that need it, e.g. with `@jest-environment-options {"isolation": "test"}`
// in those files. Here the whole (one-file) project uses it.
//
// Caps need a cgroup this user may write to (see examples/jest); 'warn' runs
// uncapped where there is none.
module.exports = {
  preset: 'jest-environment-ns-isolated',
  testEnvironmentOptions: {
    isolation: process.env.EXAMPLE_ISOLATION || 'test',
    memory: '512M',
    unenforceable: process.getuid?.() === 0 ? 'error' : 'warn',
  },
}
