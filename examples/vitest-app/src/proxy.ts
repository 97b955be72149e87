// A small HTTP proxy: GET /proxy?url=<upstream> fetches the upstream and
// answers with its body, or with 502 and the reason when the upstream cannot
// be reached (unknown host, refused connection).
import { createServer, type Server } from 'node:http'

export function createProxy(): Server {
  return createServer(async (req, res) => {
    const target = new URL(req.url ?? '/', 'http://proxy.local').searchParams.get('url')
    if (!target) {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'missing url' }))
      return
    }
    try {
      const upstream = await fetch(target)
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
      res.end(await upstream.text())
    } catch (e) {
      const code = ((e as { cause?: { code?: string } }).cause?.code ?? 'EUPSTREAM') as string
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: code }))
    }
  })
}
