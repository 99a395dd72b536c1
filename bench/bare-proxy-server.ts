import http from 'node:http'
import { Agent, type Dispatcher } from 'undici'

/**
 * The proxy benchmark's yardstick: forwarding with no broker logic, node:http in front of the same
 * undici version and pool settings as the broker. A request to PREFIX/<rest> goes to UPSTREAM/<rest>
 * (query included) with the session token and the headers the broker sends; the answer is read
 * whole and written back in one write with its status, Content-Type and Content-Length. No
 * authentication, policy, accounting, scrubbing, logging or Fastify: what any Node proxy costs in
 * sockets, HTTP parsing and undici, the floor under the broker's figure.
 *   UPSTREAM=http://127.0.0.1:PORT TOKEN=... PREFIX=/v1/connections/proxied/salesforce node bench/bare-proxy-server.ts
 *   → prints {"url":"http://127.0.0.1:PORT"}
 */
const upstream = new URL(process.env.UPSTREAM ?? '')
const token = process.env.TOKEN ?? ''
const prefix = process.env.PREFIX ?? ''
const dispatcher = new Agent({ connections: 128 })

const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
  if (!url.startsWith(prefix + '/')) {
    res.writeHead(404).end()
    return
  }
  const chunks: Buffer[] = []
  let status = 502
  let contentType: string | undefined
  const handler: Dispatcher.DispatchHandlers = {
    onConnect () {},
    onHeaders (statusCode, rawHeaders) {
      status = statusCode
      for (let i = 0; i < rawHeaders.length; i += 2) {
        if (rawHeaders[i].length === 12 && rawHeaders[i].toString('latin1').toLowerCase() === 'content-type') contentType = rawHeaders[i + 1].toString('latin1')
      }
      return true
    },
    onData (chunk) {
      chunks.push(chunk)
      return true
    },
    onComplete () {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      res.writeHead(status, contentType === undefined ? { 'content-length': body.length } : { 'content-type': contentType, 'content-length': body.length }).end(body)
    },
    onError () {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    },
  }
  req.resume()
  dispatcher.dispatch({
    origin: upstream.origin,
    path: url.slice(prefix.length),
    method: 'GET',
    headers: { host: upstream.host, authorization: `Bearer ${token}`, 'accept-encoding': 'identity' },
  }, handler)
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('bare-proxy-server: unexpected listen address')
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${address.port}` }) + '\n')
})

const shutdown = (): void => {
  server.closeAllConnections()
  server.close(() => { dispatcher.close().then(() => process.exit(0), () => process.exit(1)) })
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
