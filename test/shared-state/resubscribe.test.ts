import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import type { BrokerEvent } from '../../src/shared-state/shared-state.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startRedis } from '../support/redis.ts'

/**
 * A TCP hop between the broker and a real redis-server that can cut every connection, and then hold
 * the next SUBSCRIBE unanswered: the subscriber's re-subscription after a reconnect is in flight
 * when the replica stops. ioredis' own re-subscription (autoResubscribe) left that SUBSCRIBE's
 * rejection unhandled, which ends a Node process (a broker under close-with-grace exits 1); once in
 * 25 runs of the suite it ended a test process after a Redis restart.
 */
async function cuttingHop (t: Test, target: number) {
  const open = new Set<Socket>()
  let cutNextSubscribe = false
  let subscribesHeld = 0
  const held: Buffer[] = []
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    open.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream) }
    client.on('data', (d: Buffer) => {
      if (cutNextSubscribe && /subscribe/i.test(d.toString('latin1'))) {
        // held: never reaches Redis, so never answered
        cutNextSubscribe = false
        subscribesHeld++
        held.push(d)
        return
      }
      upstream.write(d)
    })
    upstream.on('data', (d: Buffer) => client.write(d))
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { for (const s of open) s.destroy(); server.close() })
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cutAll: (thenHoldTheNextSubscribe: boolean) => { cutNextSubscribe = thenHoldTheNextSubscribe; for (const s of open) s.destroy(); open.clear() },
    subscribesHeld: () => subscribesHeld,
  }
}

t.test('the subscription comes back after a reconnect; a replica stopping while it re-subscribes leaves nothing unhandled', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const hop = await cuttingHop(t, Number(new URL(redis.url).port))
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
  // tap fails a test on an unhandled rejection by ending the process: listen first, so it is counted
  process.prependListener('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

  const logs = captureLogs('info')
  const make = () => new RedisSharedState({ redis: { REDIS_URL: hop.url } as RedisSettings, keyPrefix: 'resub:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger, redisOptions: { retryStrategy: () => 20 } })
  const listening = make()
  const publishing = make()
  t.teardown(async () => { await listening.close(); await publishing.close() })
  await listening.firstConnect(5000)
  await publishing.firstConnect(5000)
  const heard: BrokerEvent[] = []
  listening.onEvent(e => heard.push(e))
  const hear = async (event: BrokerEvent) => {
    for (let i = 0; i < 200 && !heard.some(e => JSON.stringify(e) === JSON.stringify(event)); i++) {
      await publishing.publish(event).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    return heard.some(e => JSON.stringify(e) === JSON.stringify(event))
  }
  t.ok(await hear({ type: 'purge', connection: 'before' } as BrokerEvent), 'subscribed')

  hop.cutAll(false)
  t.ok(await hear({ type: 'purge', connection: 'after' } as BrokerEvent), 'subscribed again after a reconnect')

  hop.cutAll(true)
  // the re-subscription after the reconnect is held unanswered; the broker stops meanwhile (a
  // rolling restart during a Redis flap): its pending SUBSCRIBE is rejected when the client closes
  for (let i = 0; i < 200 && hop.subscribesHeld() === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(hop.subscribesHeld(), 1, 'a re-subscription is in flight')
  await listening.close()
  await new Promise(resolve => setTimeout(resolve, 50))
  t.same(unhandled.map(r => (r as Error).message), [], 'no rejection left unhandled')
})
