import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import type { BrokerEvent } from '../../src/shared-state/shared-state.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startRedis } from '../support/redis.ts'
import { redisHop } from '../support/redis-hop.ts'

/**
 * The broker reaches a real redis-server through a hop that can cut every connection, and then hold
 * the next SUBSCRIBE unanswered: the subscriber's re-subscription after a reconnect is in flight
 * when the replica stops. ioredis' own re-subscription (autoResubscribe) left that SUBSCRIBE's
 * rejection unhandled, which ends a Node process (a broker under close-with-grace exits 1); once in
 * 25 runs of the suite it ended a test process after a Redis restart.
 */
t.test('the subscription comes back after a reconnect; a replica stopping while it re-subscribes leaves nothing unhandled', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const hop = await redisHop(t, Number(new URL(redis.url).port))
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
