import { randomBytes } from 'node:crypto'
import type { Command } from 'ioredis'
import { FallbackSharedState } from '../../src/shared-state/fallback-state.ts'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import type { CachedSession } from '../../src/shared-state/shared-state.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import type { Teardown } from '../helper.ts'
import { captureLogs } from './log-capture.ts'
import { startRedis, type TestRedis } from './redis.ts'

interface CommandSender { sendCommand: (command: Command) => unknown }

/**
 * Another replica's step, made to land between one command of `client` and its answer, every run:
 * the next command `client` sends is answered by Redis as usual, but handed back only after `between`
 * has run. Only that one command; the client is as it was after the test. (ioredis' own client; no
 * module of the broker is stood in for.)
 */
export function betweenNextAnswer (t: Teardown, client: CommandSender, between: () => Promise<void>): void {
  const send = client.sendCommand.bind(client) as (command: Command) => Promise<unknown>
  let armed = true
  client.sendCommand = ((command: Command) => {
    const answer = send(command)
    if (!armed) return answer
    armed = false
    return answer.then(async (value) => {
      await between()
      return value
    })
  }) as CommandSender['sendCommand']
  t.teardown(() => { client.sendCommand = send })
}

/**
 * Two replicas on a Redis of their own, both connected: `other` speaks to Redis alone; `replica` is
 * one as the broker builds it, Redis (`primary`, whose client a test interleaves) with its copy in
 * process memory. One session key for both, as a fleet has.
 */
export async function replicaBesideAnother (t: Teardown): Promise<{ redis: TestRedis, other: RedisSharedState, primary: RedisSharedState, replica: FallbackSharedState }> {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const sealer = new SessionSealer(randomBytes(32))
  const make = () => new RedisSharedState({ redis: { REDIS_URL: redis.url } as RedisSettings, keyPrefix: 'p:', sealer, logger: logs.logger })
  const other = make()
  t.teardown(() => other.close())
  const primary = make()
  const replica = new FallbackSharedState(primary, logs.logger)
  t.teardown(() => replica.close())
  await other.firstConnect(5000)
  await primary.firstConnect(5000)
  return { redis, other, primary, replica }
}

/** A cached session of acme's, valid for the next 50 minutes: what the shared-state race tests store. */
export const cachedSession = (token: string, version: number): CachedSession => ({
  session: { accessToken: token, instanceUrl: 'https://acme.my.salesforce.com' },
  secretVersion: version,
  apiVersion: '62.0',
  realEnd: Date.now() + 3_600_000,
  validUntil: Date.now() + 3_000_000,
} as CachedSession)
