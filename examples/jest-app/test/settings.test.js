const { chmodSync, mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { loadSettings, saveSettings } = require('../src/settings')

let dir
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'app-settings-'))
})
afterEach(() => {
  chmodSync(dir, 0o700)
  rmSync(dir, { recursive: true, force: true })
})

test('saves and loads settings', () => {
  saveSettings(dir, { theme: 'dark' })
  expect(loadSettings(dir)).toEqual({ theme: 'dark' })
})

// Root writes anywhere, so only an ordinary user can see the refusal (stock and isolated alike).
const asUser = process.getuid() === 0 ? test.skip : test
asUser('refuses to save into a read-only directory (EACCES)', () => {
  chmodSync(dir, 0o400)
  let error
  try {
    saveSettings(dir, { theme: 'dark' })
  } catch (e) {
    error = e
  }
  expect(error?.code).toBe('EACCES')
})
