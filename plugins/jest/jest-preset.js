// `preset: 'jest-environment-ns-isolated'`: every test file runs in fresh
// Linux namespaces (the runner forks each into a sandbox), with the usage
// report printed after Jest's own ('default' stays).
'use strict'
// An old Node is refused here, at config load.
require('./dist/node-gate.js')
const { join } = require('node:path')

module.exports = {
  runner: join(__dirname, 'dist', 'runner.js'),
  testEnvironment: join(__dirname, 'dist', 'environment.js'),
  reporters: ['default', join(__dirname, 'dist', 'reporter.js')],
}
