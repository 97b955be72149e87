// A server on a fixed port. Every file of this project could use port 3000
// at the same time: each has its own loopback.
import { createServer } from 'node:http'
import { afterAll, beforeAll, expect, test } from 'vitest'

const server = createServer((_req, res) => res.end('hello from the sandbox'))

beforeAll(() => new Promise<void>((resolve) => server.listen(3000, '127.0.0.1', resolve)))
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

test('answers on 127.0.0.1:3000', async () => {
  const res = await fetch('http://127.0.0.1:3000/')
  expect(await res.text()).toBe('hello from the sandbox')
})
