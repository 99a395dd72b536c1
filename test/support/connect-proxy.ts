import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'

/**
 * A forward proxy on loopback for egress tests: CONNECT tunnels (what undici and axios use for
 * https, and undici for every request) and absolute-form requests (a plain-http forward), each
 * counted by target "host:port". A test fixture, not an imitation of a proxy product.
 */
export interface TestProxy {
  url: string
  /** CONNECT tunnels opened, by target host:port */
  tunnels: Map<string, number>
  close (): Promise<void>
}

/** `refuse`: answer every CONNECT with this status instead of tunnelling (a proxy whose policy denies the host). */
export async function startConnectProxy (opts: { refuse?: number } = {}): Promise<TestProxy> {
  const tunnels = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    // absolute-form request of a plain-http forward: not expected from the broker's clients
    res.writeHead(405).end()
  })
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? ''
    tunnels.set(target, (tunnels.get(target) ?? 0) + 1)
    if (opts.refuse !== undefined) {
      client.end(`HTTP/1.1 ${opts.refuse} Refused\r\ncontent-length: 0\r\n\r\n`)
      return
    }
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
    const upstream = connect(port, host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy() }
    upstream.on('error', () => { client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'); drop() })
    client.on('error', drop)
    client.on('close', () => { sockets.delete(client); upstream.destroy() })
    upstream.on('close', () => { sockets.delete(upstream); client.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () => new Promise<void>(resolve => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
