// Both files use port 3000; in their own network namespaces they never collide.
const { start } = require('./server')

let server
beforeAll(async () => {
  server = await start(3000)
})
afterAll(() => new Promise((r) => server.close(r)))

test('answers on the fixed port', async () => {
  const body = await (await fetch('http://127.0.0.1:3000/a')).json()
  expect(body).toEqual({ path: '/a' })
})
