import { randomBytes } from 'node:crypto'
import type { Teardown } from '../helper.ts'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { captureLogs, type LogCapture } from './log-capture.ts'
import { startRedis, type TestRedis } from './redis.ts'

/**
 * A shared-state contract's Redis sides, on one real redis-server: the plain Redis state (keys under
 * `a:`) and Redis with process memory behind it (under `b:`), both connected; closed with the test.
 */
export async function redisStates (t: Teardown): Promise<{ redis: TestRedis, plain: RedisSharedState, tiered: FallbackSharedState, logs: LogCapture }> {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const make = (prefix: string) => new RedisSharedState({ redis: { REDIS_URL: redis.url } as RedisSettings, keyPrefix: prefix, sealer: new SessionSealer(randomBytes(32)), logger: logs.logger })
  const plain = make('a:')
  t.teardown(() => plain.close())
  await plain.firstConnect(5000)
  const tiered = new FallbackSharedState(make('b:'), logs.logger)
  t.teardown(() => tiered.close())
  await (tiered.primary as RedisSharedState).firstConnect(5000)
  return { redis, plain, tiered, logs }
}
