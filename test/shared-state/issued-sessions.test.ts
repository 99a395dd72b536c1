import t from 'tap'
import type { CachedSession } from '../../src/shared-state/shared-state.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { redisStates } from '../support/redis-states.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * The kill switch's list of sessions handed out (storeSession, takeIssued) forgets a session once
 * Salesforce has ended it, as process memory does: a connection that logs in every few hours keeps
 * its list alive forever, and without that it would grow by every session ever obtained.
 */
const session = (token: string, realEnd: number): CachedSession => ({
  session: { accessToken: token, instanceUrl: 'https://acme.my.salesforce.com' },
  secretVersion: 1,
  apiVersion: '62.0',
  realEnd,
  validUntil: realEnd,
} as CachedSession)

t.test('a session Salesforce has ended leaves the list of issued sessions at the next store', async (t) => {
  const { redis, plain } = await redisStates(t)
  const issued = new RedisKeys('a:').issued('acme')
  const hour = Date.now() + 3_600_000
  await plain.storeSession('acme', session('first', hour))
  const short = Date.now() + 30
  await plain.storeSession('acme', session('short-lived', short))
  t.equal(await redis.client().hlen(issued), 2)
  await until('the short-lived session ended', () => Date.now() > short)
  await plain.storeSession('acme', session('next', hour))
  t.equal(await redis.client().hlen(issued), 2, 'the ended one is no longer kept')
  t.same((await plain.takeIssued('acme')).map(s => s.session.accessToken).sort(), ['first', 'next'], 'the kill switch still gets every live one')
  t.equal(await redis.client().exists(issued), 0, 'taken')
})
