import t, { type Test } from 'tap'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import type { SharedState } from '../../src/shared-state/shared-state.ts'
import { loginInFlightDoc, loginUserLease } from '../../src/shared-state/state-names.ts'
import { redisStates } from '../support/redis-states.ts'

/**
 * A lease's notes (a password login in flight under it) go when the lease is released, in the same
 * step, and only by its holder: a holder that lost its lease never takes back the next holder's note.
 */
async function contract (t: Test, state: SharedState) {
  const lease = loginUserLease('user:a@b.c')
  const note = loginInFlightDoc('user:a@b.c')
  t.ok(await state.acquireLease(lease, 'first', 60_000))
  await state.putJson(note, { at: 1 })
  t.equal(await state.releaseLease(lease, 'someone-else', [note]), false, 'not the holder: nothing released')
  t.same(await state.getJson(note), { at: 1 }, 'and the note stays')
  t.equal(await state.releaseLease(lease, 'first', [note]), true)
  t.equal(await state.getJson(note), null, 'the holder\'s release takes the note along')
  t.ok(await state.acquireLease(lease, 'second', 60_000), 'the lease is free')
  t.ok(await state.releaseLease(lease, 'second'), 'a release without notes still releases')
}

t.test('process memory', async (t) => {
  await contract(t, new MemorySharedState())
})

t.test('Redis, and Redis with process memory behind it', async (t) => {
  const { redis, plain, tiered } = await redisStates(t)
  await contract(t, plain)
  t.same(await redis.client().keys('a:*lease*'), [], 'no lease key left behind')
  await contract(t, tiered)
})
