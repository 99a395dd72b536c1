import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startRedis } from '../support/redis.ts'
import { betweenNextAnswer, cachedSession as session } from '../support/redis-interleave.ts'
import { RedisClusterSet } from '../support/redis-topologies.ts'

/**
 * Two replicas on one Redis: one purges a connection (the kill switch, a rotation) while the other's
 * login stores a session of it. Whatever the interleaving, the session is taken by that purge or by
 * the next one (it is revoked with what a purge returns): it is never left in Redis where no purge
 * finds it, handed out until it expires.
 */

async function contract (t: Test, settings: Partial<RedisSettings>, cachedKeys: () => Promise<string[]>) {
  const logs = captureLogs('info')
  const sealer = new SessionSealer(randomBytes(32))
  const make = () => new RedisSharedState({ redis: settings as RedisSettings, keyPrefix: 'p:', sealer, logger: logs.logger })
  const purging = make()
  const storing = make()
  t.teardown(() => purging.close())
  t.teardown(() => storing.close())
  await purging.firstConnect(5000)
  await storing.firstConnect(5000)

  for (const version of [1, 2]) {
    t.test(`the stored session is of version ${version}; version 1 was cached before`, async (t) => {
      await storing.storeSession('acme', session('old-v1', 1))
      // the other replica's login stores its session right after the purge's first command is answered
      betweenNextAnswer(t, purging.client, async () => {
        await storing.storeSession('acme', session(`new-v${version}`, version))
      })

      const first = await purging.purgeSessions('acme')
      const second = await purging.purgeSessions('acme')
      const taken = [...first, ...second].map(s => s.session.accessToken)
      t.ok(taken.includes(`new-v${version}`), `the new session is taken by a purge (taken: ${taken.join(', ')})`)
      // the same key: the new session replaced the old one in the cache before the purge read it
      if (version !== 1) t.ok(taken.includes('old-v1'), 'and the old one')
      t.equal(await storing.getSession('acme', version), null, 'no longer handed out')
      t.same(await cachedKeys(), [], 'nothing of the connection left cached')
    })
  }
}

t.test('one server: a session stored while a purge runs is taken by that purge or the next', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  await contract(t, { REDIS_URL: redis.url }, () => redis.client().keys('p:{acme}:session*'))
})

t.test('Cluster (the connection\'s keys in one slot): the same', async (t) => {
  const set = await RedisClusterSet.start()
  t.teardown(() => set.close())
  const master = async () => set.node(await set.masterOf('p:{acme}:session-index'))
  await contract(t, set.env, async () => (await master()).keys('p:{acme}:session*'))
})
