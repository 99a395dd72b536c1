import t, { type Test } from 'tap'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import type { Quota, SharedState } from '../../src/shared-state/shared-state.ts'
import { redisStates } from '../support/redis-states.ts'

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
  const { redis, plain, tiered: fallback, logs } = await redisStates(t)
  await contract(t, plain)
  const ttl = await redis.client().pttl('a:{svc}:quota:q-day')
  t.ok(ttl > 60_000 && ttl <= 120_000, 'a count lives its ttl from the first event')

  await contract(t, fallback)
  // the local tier counted this replica's share while Redis answered: an outage goes on from it
  t.equal(await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }]), -1)
  await redis.stop()
  t.same([await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }]), await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }]), await fallback.takeQuotas([{ key: 'outage:svc', limit: 3, ttlMs: 60_000 }])], [-1, -1, 0])
  t.match(logs.text(), /shared state unavailable/)
})
