// The app's own config (jest.stock.config.js) plus one line. Its
// `testEnvironment: 'node'` stays, and so do the jsdom files' docblocks:
// every file is isolated whatever its environment.
module.exports = {
  ...require('./jest.stock.config.js'),
  preset: 'jest-environment-ns-isolated',
}
