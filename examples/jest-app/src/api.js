// A small HTTP API: health, a proxy to an upstream, and a report computed by a child process.
const { execFile } = require('node:child_process')
const { createServer } = require('node:http')

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

function createApi() {
  return createServer(async (req, res) => {
    const url = new URL(req.url, 'http://api')
    if (url.pathname === '/health') return send(res, 200, { ok: true })
    if (url.pathname === '/proxy') {
      try {
        const upstream = await fetch(url.searchParams.get('to'))
        return send(res, upstream.status, { body: await upstream.text() })
      } catch (e) {
        // An upstream that does not resolve or answer: a gateway error, with the reason.
        return send(res, 502, { error: e.cause?.code ?? e.message })
      }
    }
    if (url.pathname === '/report') {
      return execFile(process.execPath, ['-e', 'console.log(JSON.stringify({ sum: 1 + 2 + 3 }))'], (e, out) =>
        e ? send(res, 500, { error: e.message }) : send(res, 200, JSON.parse(out)),
      )
    }
    send(res, 404, { error: 'not found' })
  })
}

/** Listens on a free port of 127.0.0.1; resolves with its base URL. */
function listen(server) {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`))
  })
}

module.exports = { createApi, listen }
