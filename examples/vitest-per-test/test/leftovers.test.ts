// Two tests that would trip over each other in one process: the first
// leaves a server on a fixed port, a file in /tmp, a global and a
// process behind. With a sandbox per test the second finds none of it, and
// the report lists the leaked `sleep` under the first.
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { expect, test } from 'vitest'

const state = globalThis as { cache?: string }

function listen(): Promise<void> {
  return new Promise((resolve, reject) => createServer().once('error', reject).listen(3000, '127.0.0.1', resolve))
}

test('leaves things behind', async () => {
  await listen()
  writeFileSync('/tmp/example-per-test', 'left by the first test')
  state.cache = 'warm'
  spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' }).unref()
})

test('starts clean', async () => {
  await listen()
  expect(existsSync('/tmp/example-per-test')).toBe(false)
  expect(state.cache).toBeUndefined()
})
