import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * ioredis gives a client up for good when one of its reconnect attempts is itself cut short: the
 * connector's promise rejects and Redis#connect sets the status to `end` (ioredis
 * built/Redis.js, connect()). With Sentinel that happens when a sentinel announces +switch-master
 * (the failover detector, `failoverDetector: true`) while the client is asking a sentinel for the
 * new primary: SentinelConnector#connect finds `connecting` false and throws "Connection is
 * closed.". Seen twice in the failover tests as one replica that never became ready again. Here the
 * same path is taken on one server, deterministically: the connector is disconnected between the
 * start of a reconnect and its first tick, as the failover detector does.
 */
t.test('a client that ioredis ended on its own (a reconnect cut short) connects again', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const state = new RedisSharedState({ redis: { REDIS_URL: redis.url } as RedisSettings, keyPrefix: 'end:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger, redisOptions: { retryStrategy: () => 20 } })
  t.teardown(() => state.close())
  t.ok(await state.firstConnect(5000), 'connected')
  const ended = new Promise<void>(resolve => state.client.once('end', () => resolve()))
  // what the failover detector does, at the moment that ends the client
  // (ioredis emits a status on the next tick: the connector has started, its first tick is still to come)
  state.client.once('connecting', () => (state.client as unknown as { connector: { disconnect (): void } }).connector.disconnect())
  state.client.disconnect(true)
  await ended
  t.pass('ioredis ended the client')
  await until('the client is ready again', () => state.connected, 10_000)
  t.equal(await state.probe(), 'ok', 'commands work again')
  t.match(logs.text(), /redis client gave up reconnecting; connecting again/)
})
