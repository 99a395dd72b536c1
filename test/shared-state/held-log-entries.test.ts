import { randomBytes } from 'node:crypto'
import t from 'tap'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { captureLogs } from '../support/log-capture.ts'
import { redisHop } from '../support/redis-hop.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'

t.test('log entries written while Redis is down are appended there, in order, when it is back; at most what the log keeps', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const state = new FallbackSharedState(new RedisSharedState({ redis: { REDIS_URL: redis.url } as RedisSettings, keyPrefix: 'h:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger }), logs.logger)
  t.teardown(() => state.close())
  await (state.primary as RedisSharedState).firstConnect(5000)

  await redis.stop()
  // dead letters (one entry a call), and the audit (batches) with a count limit of 3
  await state.appendToStream('dead', 'd1', 100)
  await state.appendToStream('dead', 'd2', 100)
  await state.appendToStreamWithin('audit', ['a1', 'a2'], { maxLen: 3 })
  await state.appendToStreamWithin('audit', ['a3', 'a4'], { maxLen: 3 })
  t.match(logs.text(), /exceed what is held for the shared log/, 'the one entry the log would not keep is named as dropped')
  t.same((await state.readStreamRange('audit', { order: 'asc', count: 10 })).map(e => e.entry), ['a2', 'a3', 'a4'], 'process memory lists them meanwhile, as many as the log keeps')

  await redis.start()
  // the first call that reaches Redis again starts the replay
  await until('a call reaches Redis again', async () => { await state.getJson('any'); return !state.isDegraded })
  const entries = async (name: string): Promise<string[]> => (await redis.client().xrange(`h:${name}`, '-', '+')).map(([, fields]) => fields[1])
  await until('the held entries are in Redis', async () => (await entries('audit')).length === 3 && (await entries('dead')).length === 2)
  t.same(await entries('audit'), ['a2', 'a3', 'a4'], 'the newest three, in order')
  t.same(await entries('dead'), ['d1', 'd2'])
  t.same((await state.readStreamRange('audit', { order: 'asc', count: 10 })).map(e => e.entry), ['a2', 'a3', 'a4'], 'and the state lists them from Redis')

  // replayed once: another call adds nothing
  await state.getJson('any')
  await state.appendToStreamWithin('audit', ['a5'], { maxLen: 10 })
  t.same(await entries('audit'), ['a2', 'a3', 'a4', 'a5'])
})

t.test('an entry whose command only timed out on a live connection is not sent again: Redis still runs it', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const hop = await redisHop(t, Number(new URL(redis.url).port))
  const logs = captureLogs('info')
  const state = new FallbackSharedState(new RedisSharedState({ redis: { REDIS_URL: hop.url } as RedisSettings, keyPrefix: 's:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger }), logs.logger)
  t.teardown(() => state.close())
  await (state.primary as RedisSharedState).firstConnect(5000)

  hop.delay(2_000) // past the 1.5 s command timeout; the connection stays up
  await state.appendToStreamWithin('audit', ['late'], { maxLen: 10 })
  t.ok(state.isDegraded, 'the append timed out')
  hop.delay(0)
  await until('the late command landed', async () => await redis.client().xlen('s:audit') === 1)
  await until('a call reaches Redis again', async () => { await state.getJson('any'); return !state.isDegraded })
  await state.appendToStreamWithin('audit', ['next'], { maxLen: 10 })
  t.same((await redis.client().xrange('s:audit', '-', '+')).map(([, fields]) => fields[1]), ['late', 'next'], 'each once')
})
