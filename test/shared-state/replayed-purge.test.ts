import t from 'tap'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { cachedSession as session, replicaBesideAnother } from '../support/redis-interleave.ts'

/**
 * A purge (a rotation, the kill switch) whose delete did not reach Redis is made again when Redis
 * answers: the sessions cached before it go. A session stored after it, by a login of any replica
 * or the rotation's adopted one, is of the fleet's present: the replay must leave it, or every
 * replica that did not keep its own copy logs in again (one login per fleet, not per replica).
 */

t.test('a purge replayed after Redis failed it takes the sessions cached before it, not one stored since', async (t) => {
  const { redis, other, replica } = await replicaBesideAnother(t)
  await other.storeSession('acme', session('cached-before-the-rotation', 1))

  // Redis refuses the purge's first command (as a Cluster node being failed over answers), not a timeout
  const admin = redis.client()
  await admin.call('ACL', 'SETUSER', 'default', '-smembers')
  await replica.purgeSessions('acme')
  await admin.call('ACL', 'SETUSER', 'default', '+smembers')
  t.ok(await other.getSession('acme', 1), 'the purge did not reach Redis')

  // the rotation's session of the new version, stored once Redis answers again
  await other.storeSession('acme', session('stored-after-the-purge', 2))
  const replayed = new Promise<void>((resolve) => { other.onEvent((e) => { if (e.type === 'purge' && e.connection === 'acme') resolve() }) })
  // the replica's next call that Redis answers completes what it could not do
  await replica.getSession('acme', 2)
  await replayed

  t.equal(await other.getSession('acme', 1), null, 'the session cached before the purge is gone')
  t.equal((await other.getSession('acme', 2))?.session.accessToken, 'stored-after-the-purge', 'the session stored after it is still cached for the fleet')
})

t.test('process memory keeps the same contract (the tier a replica without Redis keeps)', async (t) => {
  const memory = new MemorySharedState()
  await memory.storeSession('acme', session('cached-before', 1))
  const madeAt = Date.now()
  // a later millisecond: one stored in the purge's own counts as before it
  while (Date.now() <= madeAt) await new Promise(resolve => setImmediate(resolve))
  await memory.storeSession('acme', session('stored-after', 2))
  t.same((await memory.purgeSessions('acme', madeAt)).map(s => s.session.accessToken), ['cached-before'], 'only the one stored before')
  t.equal((await memory.getSession('acme', 2))?.session.accessToken, 'stored-after')
  t.same((await memory.purgeSessions('acme')).map(s => s.session.accessToken), ['stored-after'], 'without a time, every one')
})
