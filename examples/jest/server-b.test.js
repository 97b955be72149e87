const { start } = require('./server')

let server
beforeAll(async () => {
  server = await start(3000)
})
afterAll(() => new Promise((r) => server.close(r)))

test('answers on the same fixed port, at the same time', async () => {
  const body = await (await fetch('http://127.0.0.1:3000/b')).json()
  expect(body).toEqual({ path: '/b' })
})

test('matches its snapshot (written to the real project)', () => {
  expect({ service: 'b', port: 3000 }).toMatchInlineSnapshot(`
{
  "port": 3000,
  "service": "b",
}
`)
})
