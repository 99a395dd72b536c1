import t from 'tap'
import pino from 'pino'
import { GuardStore } from '../../src/sessions/guard-store.ts'
import { CANDIDATE_MEMORY_MS, withFailure, type GuardState } from '../../src/sessions/login-guard.ts'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { loginGuardDoc } from '../../src/shared-state/state-names.ts'

/**
 * A view of the failure guard (health, an admin's snapshot) on a replica with Redis and its own
 * memory writes nothing itself; when Redis is short of this replica's count it has it written back
 * under the user's lease. Here "Redis" is one in-memory state that counts the guard's writes.
 */

const IDENTITY = 'user'

class CountedRedis extends MemorySharedState {
  guardWrites = 0
  override putJson (key: string, value: unknown, ttlMs?: number): Promise<void> {
    if (key === loginGuardDoc(IDENTITY)) this.guardWrites++
    return super.putJson(key, value, ttlMs)
  }
}

/** Every promise the last step started has settled (the in-memory states answer within a turn or two). */
async function settled (): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
}

function replicas (now: () => number) {
  const redis = new CountedRedis()
  const replica = () => new GuardStore({ state: new FallbackSharedState(redis, pino({ level: 'silent' })), logger: pino({ level: 'silent' }), guard: { threshold: 3 }, now })
  return { redis, a: replica(), b: replica() }
}

t.test('a view writes nothing back when only candidates this replica remembers longer differ', async (t) => {
  let now = 1_000_000
  const { redis, a, b } = replicas(() => now)
  await a.write(IDENTITY, withFailure(null, now, 'wrong-candidate'))
  await settled()
  for (let round = 0; round < 3; round++) {
    // a day on, A counts another failure: its copy forgets the candidate, B's memory (it heard the first write) does not
    now += CANDIDATE_MEMORY_MS + 1
    await a.write(IDENTITY, withFailure(await redis.getJson<GuardState>(loginGuardDoc(IDENTITY)), now))
    await settled()
    const before = redis.guardWrites
    t.equal((await b.read(IDENTITY) as GuardState).failures.length, round + 2, 'B\'s view counts every failure')
    await settled()
    t.equal(redis.guardWrites, before, `round ${round}: no write-back for a candidate only`)
  }
})

t.test('a view on a replica that is stopping starts no write-back', async (t) => {
  const { redis, a } = replicas(() => 1_000_000)
  await a.write(IDENTITY, withFailure(withFailure(null, 1), 2))
  await redis.putJson(loginGuardDoc(IDENTITY), null) // Redis lost it
  const before = redis.guardWrites
  await a.close()
  t.equal((await a.read(IDENTITY) as GuardState).failures.length, 2, 'the view still shows this replica\'s count')
  await settled()
  t.equal(redis.guardWrites, before, 'nothing written after close')
})

t.test('a view on a replica that is running writes a count Redis lost back', async (t) => {
  const { redis, a } = replicas(() => 1_000_000)
  await a.write(IDENTITY, withFailure(withFailure(null, 1), 2))
  await redis.putJson(loginGuardDoc(IDENTITY), null)
  await a.read(IDENTITY)
  await settled()
  t.equal((await redis.getJson<GuardState>(loginGuardDoc(IDENTITY)))?.failures.length, 2)
})

t.test('closing waits for a write-back under way, and none starts after', async (t) => {
  let letClaim!: () => void
  class SlowLeaseRedis extends CountedRedis {
    claimHeld: Promise<void> | undefined
    override async acquireLease (name: string, owner: string, ttlMs: number) {
      await this.claimHeld
      return super.acquireLease(name, owner, ttlMs)
    }
  }
  const redis = new SlowLeaseRedis()
  const a = new GuardStore({ state: new FallbackSharedState(redis, pino({ level: 'silent' })), logger: pino({ level: 'silent' }), guard: { threshold: 3 }, now: () => 1_000_000 })
  await a.write(IDENTITY, withFailure(withFailure(null, 1), 2))
  await redis.putJson(loginGuardDoc(IDENTITY), null)
  redis.claimHeld = new Promise(resolve => { letClaim = resolve })
  await a.read(IDENTITY) // a write-back starts, and waits for the user's lease
  let closed = false
  const closing = a.close().then(() => { closed = true })
  await settled()
  t.equal(closed, false, 'close waits for the write-back')
  letClaim()
  await closing
  const written = redis.guardWrites
  t.equal((await redis.getJson<GuardState>(loginGuardDoc(IDENTITY)))?.failures.length, 2, 'which finished before close returned')
  await a.read(IDENTITY)
  await settled()
  t.equal(redis.guardWrites, written, 'nothing written after')
})
