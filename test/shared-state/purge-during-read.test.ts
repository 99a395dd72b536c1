import t from 'tap'
import type { CachedSession } from '../../src/shared-state/shared-state.ts'
import { betweenNextAnswer, replicaBesideAnother } from '../support/redis-interleave.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * A replica keeps a copy of what it reads from Redis in process memory, to ride out an outage. A
 * purge (the kill switch on another replica) heard while its read was on the way must not be undone
 * by the copy landing after it: once Redis is down, that copy would hand out the revoked session.
 */
const session: CachedSession = {
  session: { accessToken: 'revoked-by-the-kill-switch', instanceUrl: 'https://acme.my.salesforce.com' },
  secretVersion: 1,
  apiVersion: '62.0',
  realEnd: Date.now() + 3_600_000,
  validUntil: Date.now() + 3_000_000,
} as CachedSession

for (const read of ['getSession', 'readMany'] as const) {
  t.test(`a purge heard during a ${read} leaves no copy behind for an outage`, async (t) => {
    const { redis, other, primary, replica } = await replicaBesideAnother(t)
    await other.storeSession('acme', session)

    let heard = () => {}
    const purgeHeard = new Promise<void>((resolve) => { heard = resolve })
    replica.onEvent((e) => { if (e.type === 'purge') heard() })
    // the replica's read is answered by Redis before the purge, and reaches it after the purge was heard
    betweenNextAnswer(t, primary.client, async () => {
      await other.purgeSessions('acme')
      await other.publish({ type: 'purge', connection: 'acme' })
      await purgeHeard
    })

    if (read === 'getSession') await replica.getSession('acme', 1)
    else await replica.readMany([{ kind: 'session', connection: 'acme', secretVersion: 1 }] as const)

    await redis.stop()
    await until('the replica lost Redis', () => !primary.connected)
    t.equal(await replica.getSession('acme', 1), null, 'the revoked session is not handed out from process memory')
  })
}
