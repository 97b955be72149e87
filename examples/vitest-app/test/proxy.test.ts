// The proxy against a real upstream, and against one whose host does not
// exist. Isolated, the file has its own loopback and a resolver that answers
// NXDOMAIN for unknown names, so "host not found" fails fast with ENOTFOUND,
// as it does on a host with DNS.
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:http'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createProxy } from '../src/proxy.ts'

const upstream = createServer((_req, res) => res.end('hello from upstream'))
const proxy = createProxy()
let base = ''
let upstreamUrl = ''

const listen = (s: typeof upstream) =>
  new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)))

beforeAll(async () => {
  upstreamUrl = `http://127.0.0.1:${await listen(upstream)}/`
  base = `http://127.0.0.1:${await listen(proxy)}`
})
afterAll(() => {
  upstream.close()
  proxy.close()
})

test('proxies the upstream', async () => {
  const res = await fetch(`${base}/proxy?url=${encodeURIComponent(upstreamUrl)}`)
  expect(res.status).toBe(200)
  expect(await res.text()).toBe('hello from upstream')
})

test('answers 502 when the upstream host does not exist', async () => {
  const res = await fetch(`${base}/proxy?url=${encodeURIComponent('http://nonexistent.invalid/')}`)
  expect(res.status).toBe(502)
  expect(await res.json()).toEqual({ error: 'ENOTFOUND' })
})

test('answers 400 without a url', async () => {
  const res = await fetch(`${base}/proxy`)
  expect(res.status).toBe(400)
})
