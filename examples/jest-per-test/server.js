const http = require('node:http')

/** A tiny service on a fixed port, as many real ones are. */
function start(port = 3000) {
  const server = http.createServer((req, res) => res.end(JSON.stringify({ path: req.url })))
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve(server)))
}
module.exports = { start }
