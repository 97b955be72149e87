const { createApi, listen } = require('../src/api')

let api
let base
beforeAll(async () => {
  api = createApi()
  base = await listen(api)
})
afterAll(() => new Promise((resolve) => api.close(resolve)))

test('answers its health check', async () => {
  const res = await fetch(`${base}/health`)
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual({ ok: true })
})

test('proxies to an upstream that answers', async () => {
  const res = await fetch(`${base}/proxy?to=${encodeURIComponent(`${base}/health`)}`)
  expect(res.status).toBe(200)
  expect(JSON.parse((await res.json()).body)).toEqual({ ok: true })
})

test('an upstream host that does not exist is a 502 saying ENOTFOUND', async () => {
  const res = await fetch(`${base}/proxy?to=${encodeURIComponent('http://upstream.invalid/')}`)
  expect(res.status).toBe(502)
  expect(await res.json()).toEqual({ error: 'ENOTFOUND' })
})

test('computes a report in a child process', async () => {
  expect(await (await fetch(`${base}/report`)).json()).toEqual({ sum: 6 })
})

test('unknown paths are a 404', async () => {
  expect((await fetch(`${base}/nope`)).status).toBe(404)
})
