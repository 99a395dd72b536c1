import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Notifier } from '../../src/notifications/notifier.ts'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { captureLogs } from '../support/log-capture.ts'
import { redisHop } from '../support/redis-hop.ts'
import { startRedis } from '../support/redis.ts'

/**
 * An event is told once fleet-wide by the replica that takes its key in Redis. When Redis is
 * connected but answers past the client's command timeout (a loaded node, a failover under way),
 * nobody can say who took the key: the SET may still land, so no other replica tells it either.
 * The event is told here then (a copy may arrive twice, with the same id), not dropped in silence.
 */
t.test('an event raised while Redis answers too late is told, and says so', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const hop = await redisHop(t, Number(new URL(redis.url).port))
  const logs = captureLogs('info')
  const primary = new RedisSharedState({ redis: { REDIS_URL: hop.url } as RedisSettings, keyPrefix: 'slow:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger })
  const state = new FallbackSharedState(primary, logs.logger)
  t.teardown(() => state.close())
  await primary.firstConnect(5000)
  const notifier = new Notifier({ state, logger: logs.logger })
  const raise = (key: string) => notifier.raise({ type: 'kill_switch.used', connection: 'acme', data: {}, once: { key, ttlMs: 60_000 } })

  t.ok(await raise('audit:1'), 'told while Redis answers')
  t.equal(await raise('audit:1'), null, 'once: the key is taken')

  hop.delay(2_000) // past the 1.5 s command timeout; the connection stays up
  const told = await raise('audit:2')
  hop.delay(0)
  t.match(told, { type: 'kill_switch.used', connection: 'acme' }, 'told, not lost')
  t.ok(logs.records().some(r => r.level === 40 && /without knowing whether another replica told it/.test(String(r.msg))), 'a warning says a copy may arrive twice')
  t.equal(await state.acquireLease('login-lease', 'me', 60_000), true, 'Redis answers again')
})
