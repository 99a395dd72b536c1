import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Teardown } from '../helper.ts'

export interface RedisHop {
  /** redis://… through the hop */
  url: string
  /** from now, nothing crosses the hop in either direction (a paused process, a partition); the TCP connections stay open */
  freeze (): void
  /** what was held crosses now, in order, and traffic flows again */
  thaw (): void
  /** from now, everything crosses `ms` late in either direction (a slow link), in order; 0 ends it */
  delay (ms: number): void
  /** closes every connection (a Redis restart, as the client sees it); optionally the next SUBSCRIBE is then held forever, unanswered */
  cutAll (thenHoldTheNextSubscribe: boolean): void
  /** how many SUBSCRIBE commands were held */
  subscribesHeld (): number
}

/**
 * A TCP hop in front of a real redis-server for the faults a client cannot be asked to fake: all
 * traffic held without closing anything — to Redis and to the replica, the replica behind it looks
 * paused (a long GC, a stopped container, a partition) until the hop thaws —, all traffic late (a
 * slow link), or every connection cut, with the re-subscription after it held unanswered.
 */
export async function redisHop (t: Teardown, target: number): Promise<RedisHop> {
  const open = new Set<Socket>()
  let frozen = false
  let delayMs = 0
  let holdNextSubscribe = false
  let subscribesHeld = 0
  const held: Array<() => void> = []
  // timers of one delay fire in the order they were set: bytes stay in order
  const pass = (write: () => void) => {
    if (frozen) held.push(write)
    else if (delayMs > 0) setTimeout(write, delayMs)
    else write()
  }
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    open.add(client).add(upstream)
    client.on('data', (d: Buffer) => {
      if (holdNextSubscribe && /subscribe/i.test(d.toString('latin1'))) {
        // never reaches Redis, so never answered
        holdNextSubscribe = false
        subscribesHeld++
        return
      }
      pass(() => upstream.write(d))
    })
    upstream.on('data', (d: Buffer) => pass(() => client.write(d)))
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
    delay: (ms) => { delayMs = ms },
    cutAll: (thenHoldTheNextSubscribe) => {
      holdNextSubscribe = thenHoldTheNextSubscribe
      for (const s of open) s.destroy()
      open.clear()
    },
    subscribesHeld: () => subscribesHeld,
  }
}
