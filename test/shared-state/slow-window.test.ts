import t from 'tap'
import { randomBytes } from 'node:crypto'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { forcedRefreshWindow } from '../../src/shared-state/state-names.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'

/**
 * Redis slow, not down (a command timed out on a live connection): a read is asked again rather than
 * answered from process memory, but an event added to a rolling window (a caller's forced refreshes,
 * the user's login budget) is not: the first command still lands, late, and asking again counted the
 * one event twice, refusing a caller (or a login) one early.
 */
t.test('one event added while Redis is slow is counted once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const primary = new RedisSharedState({
    redis: { REDIS_URL: redis.url } as RedisSettings,
    keyPrefix: 'w:',
    sealer: new SessionSealer(randomBytes(32)),
    logger: logs.logger,
    // a command times out well within the pause below, the one asked after it does not
    redisOptions: { commandTimeout: 300 },
  })
  await primary.firstConnect(5000)
  const state = new FallbackSharedState(primary, logs.logger)
  t.teardown(() => state.close())
  const window = forcedRefreshWindow('billing')

  // Redis holds back every write (and script) for a while, as a busy server would
  const admin = redis.client()
  await admin.call('CLIENT', 'PAUSE', '450', 'WRITE')
  t.equal(await state.addToWindow(window, 60_000), 1, 'one event')
  await until('the late command landed', async () => await primary.countWindow(window, 60_000) >= 1)
  t.equal(await primary.countWindow(window, 60_000), 1, 'Redis counts it once')
  t.equal(await state.countWindow(window, 60_000), 1)
})
