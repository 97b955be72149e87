// Saves and loads the app's settings as JSON in a directory.
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

function saveSettings(dir, settings) {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings))
}

function loadSettings(dir) {
  return JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'))
}

module.exports = { loadSettings, saveSettings }
