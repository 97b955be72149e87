// Tests that clean nothing up: each leaves its server on port 3000, a file in
// /tmp, a global and a background process. With a sandbox per test they pass
// in any order; with a sandbox per file the second one to listen fails.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const { start } = require('./server')

test('the first service answers', async () => {
  await start(3000) // never closed
  fs.writeFileSync('/tmp/state.json', '{"owner":"first"}')
  globalThis.configured = 'first'
  spawn('sleep', ['600'], { stdio: 'ignore', detached: true }).unref() // never killed: the report names it
  const body = await (await fetch('http://127.0.0.1:3000/first')).json()
  expect(body).toEqual({ path: '/first' })
})

test('the second service answers on the same port', async () => {
  expect(fs.existsSync('/tmp/state.json')).toBe(false)
  expect(globalThis.configured).toBeUndefined()
  await start(3000)
  const body = await (await fetch('http://127.0.0.1:3000/second')).json()
  expect(body).toEqual({ path: '/second' })
})
