import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Teardown } from '../helper.ts'

export interface FreezingHop {
  /** redis://… through the hop */
  url: string
  /** from now, nothing crosses the hop in either direction (a paused process, a partition); the TCP connections stay open */
  freeze (): void
  /** what was held crosses now, in order, and traffic flows again */
  thaw (): void
}

/**
 * A TCP hop in front of a real redis-server that can hold all traffic without closing anything:
 * to Redis and to the replica, the replica behind it looks paused (a long GC, a stopped container,
 * a partition) — it neither hears the fleet's events nor answers them — until the hop thaws.
 */
export async function freezingHop (t: Teardown, target: number): Promise<FreezingHop> {
  const open = new Set<Socket>()
  let frozen = false
  const held: Array<() => void> = []
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    open.add(client).add(upstream)
    const forward = (to: Socket) => (d: Buffer) => {
      if (frozen) held.push(() => to.write(d))
      else to.write(d)
    }
    client.on('data', forward(upstream))
    upstream.on('data', forward(client))
    const drop = () => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { for (const s of open) s.destroy(); server.close() })
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze: () => { frozen = true },
    thaw: () => {
      frozen = false
      for (const write of held.splice(0)) write()
    },
  }
}
