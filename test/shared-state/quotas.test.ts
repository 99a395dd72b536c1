import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import type { Quota, SharedState } from '../../src/shared-state/shared-state.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startRedis } from '../support/redis.ts'

const minute = (limit: number): Quota => ({ key: 'q-minute:svc', limit, ttlMs: 60_000 })
const day = (limit: number): Quota => ({ key: 'q-day:svc', limit, ttlMs: 120_000 })

/** The same contract, whichever state keeps the counts. */
async function contract (t: Test, state: SharedState) {
  t.equal(await state.takeQuotas([]), -1, 'no quota: admitted')
  t.same([await state.takeQuotas([minute(2), day(3)]), await state.takeQuotas([minute(2), day(3)])], [-1, -1])
  t.equal(await state.takeQuotas([minute(2), day(3)]), 0, 'the minute is full: its index')
  t.equal(await state.takeQuotas([day(3)]), -1, 'a refusal counted nothing: the day still had one')
  t.equal(await state.takeQuotas([day(3)]), 0)
  // concurrent takers never share the last unit
  const taken = await Promise.all(Array.from({ length: 20 }, () => state.takeQuotas([{ key: 'burst:svc', limit: 7, ttlMs: 60_000 }])))
  t.equal(taken.filter(i => i === -1).length, 7)
}

t.test('process memory', async (t) => {
  await contract(t, new MemorySharedState())
})

t.test('Redis, and Redis with process memory behind it', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const make = (prefix: string) => new RedisSharedState({ redis: { REDIS_URL: redis.url } as RedisSettings, keyPrefix: prefix, sealer: new SessionSealer(randomBytes(32)), logger: logs.logger })
  const plain = make('a:')
  t.teardown(() => plain.close())
  await plain.firstConnect(5000)
  await contract(t, plain)
  const ttl = await redis.client().pttl('a:{svc}:quota:q-day')
  t.ok(ttl > 60_000 && ttl <= 120_000, 'a count lives its ttl from the first event')

  const fallback = new FallbackSharedState(make('b:'), logs.logger)
  t.teardown(() => fallback.close())
  await (fallback.primary as RedisSharedState).firstConnect(5000)
  await contract(t, fallback)
  // the local tier counted this replica's share while Redis answered: an outage goes on from it
  t.equal(await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }]), -1)
  await redis.stop()
  t.same([await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }]), await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }]), await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }])], [-1, -1, 0])
  t.match(logs.text(), /shared state unavailable/)
})
