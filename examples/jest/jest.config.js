// One line turns it on: every test file runs in its own namespaces, with the
// usage report printed after Jest's own output.
module.exports = {
  preset: 'jest-environment-ns-isolated',
  testEnvironmentOptions: { memory: '1G', pids: 256 },
}
