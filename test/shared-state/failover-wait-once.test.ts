import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { freePort } from '../support/redis.ts'
import { captureLogs } from '../support/log-capture.ts'

/**
 * A login that finds Sentinel or Cluster unreachable waits up to REDIS_FAILOVER_WAIT_MS for the
 * promotion. The wait is the outage's, not each call's: a request polling for a lease held by a
 * login that already waited (and then went on with a local lease) used to wait the whole time again
 * on every poll, past its own deadline (503 login_wait_timeout behind a login that had finished).
 */
t.test('during one outage the failover is waited for once; later lease calls go on at once', async (t) => {
  const logs = captureLogs('error')
  const nobody = await freePort() // no sentinel answers there: Redis stays unreachable
  const primary = new RedisSharedState({
    redis: { REDIS_SENTINELS: `127.0.0.1:${nobody}`, REDIS_SENTINEL_NAME: 'sfbprimary' } as RedisSettings,
    keyPrefix: 'fw:',
    sealer: new SessionSealer(randomBytes(32)),
    logger: logs.logger,
    failoverWaitMs: 1500,
  })
  const state = new FallbackSharedState(primary, logs.logger)
  t.teardown(() => state.close())

  const first = performance.now()
  t.ok(await state.acquireLease('lease-a', 'first', 10_000), 'the first login waited, then took a lease on this replica')
  t.ok(performance.now() - first >= 1400, 'it waited for the failover')

  // the same outage: a poll for another lease, or for the same one, must not wait the window again
  const later = state.acquireLease('lease-b', 'second', 10_000)
  const waitedAgain = await Promise.race([later.then(() => false), sleep(750).then(() => true)])
  t.notOk(waitedAgain, 'a later call in the same outage does not wait for the failover again')
  t.ok(await later, 'and takes its lease on this replica')
  t.notOk(await state.acquireLease('lease-a', 'third', 10_000), 'the local lease is held')
})
