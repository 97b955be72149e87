// The app's Jest config, as it was before ns-isolated.
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.js'],
}
