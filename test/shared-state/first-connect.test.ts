import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { isRedisRefusal, redisReason } from '../../src/shared-state/redis-refusal.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { firstConnectOrMinute } from '../support/first-connect.ts'
import { captureLogs } from '../support/log-capture.ts'
import { startSecureRedis } from '../support/redis-tls.ts'

/**
 * A starting replica waits for Redis (firstConnect) while Redis may still be coming up, but not for
 * a refusal: a wrong password or a client certificate Redis will not take is the same answer on
 * every retry (the Sentinel case: test/sessions/redis-secure.test.ts).
 */

t.test('a refusal ends the first wait at once: wrong password, no client certificate', async (t) => {
  const redis = await startSecureRedis()
  t.teardown(() => redis.close())
  const tls: Partial<RedisSettings> = { REDIS_URL: `rediss://127.0.0.1:${redis.port}`, REDIS_USERNAME: redis.username, REDIS_TLS_CA_FILE: redis.pki.caFile }
  const start = (settings: Partial<RedisSettings>) => {
    const logs = captureLogs('info')
    const state = new RedisSharedState({ redis: { ...tls, ...settings } as RedisSettings, keyPrefix: 'first:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger })
    t.teardown(() => state.close())
    return { state, logs }
  }

  const good = start({ REDIS_PASSWORD: redis.password, REDIS_TLS_CERT_FILE: redis.pki.clientCert, REDIS_TLS_KEY_FILE: redis.pki.clientKey })
  t.equal(await firstConnectOrMinute(good.state), true, 'the right password and certificate: connected')

  const wrong = start({ REDIS_PASSWORD: 'not-the-password', REDIS_TLS_CERT_FILE: redis.pki.clientCert, REDIS_TLS_KEY_FILE: redis.pki.clientKey })
  t.equal(await firstConnectOrMinute(wrong.state), false, 'a wrong password: not connected, and no hour spent')
  t.match(wrong.logs.text(), /WRONGPASS.*redis unavailable/, 'the reason is logged')

  const noCert = start({ REDIS_PASSWORD: redis.password })
  t.equal(await firstConnectOrMinute(noCert.state), false, 'no client certificate: not connected, and no hour spent')
  t.match(noCert.logs.text(), /redis unavailable/)
})

t.test('what counts as a refusal: Redis\'s answer or a TLS handshake refused, not the network', async (t) => {
  const coded = (code: string) => Object.assign(new Error('x'), { code })
  t.ok(isRedisRefusal(new Error('WRONGPASS invalid username-password pair or user is disabled.')))
  t.ok(isRedisRefusal(new Error('NOAUTH Authentication required.')))
  t.ok(isRedisRefusal(new Error('NOPERM User broker has no permissions to run the \'eval\' command')))
  t.ok(isRedisRefusal(new Error('All sentinels are unreachable. Retrying from scratch after 10ms. Last error: WRONGPASS invalid username-password pair or user is disabled.')), 'as ioredis reports it with Sentinel')
  const cluster = (last: Error) => Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: last })
  t.ok(isRedisRefusal(cluster(new Error('WRONGPASS invalid username-password pair or user is disabled.'))), 'as ioredis reports it with a Cluster')
  t.notOk(isRedisRefusal(cluster(coded('ECONNREFUSED'))), 'a Cluster whose nodes are all down is worth the wait')
  t.equal(redisReason(cluster(new Error('NOAUTH Authentication required.'))), 'Failed to refresh slots cache. Last node error: NOAUTH Authentication required.')
  t.equal(redisReason(new Error('ECONNREFUSED')), 'ECONNREFUSED')
  t.ok(isRedisRefusal(coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')))
  t.ok(isRedisRefusal(coded('ERR_TLS_CERT_ALTNAME_INVALID')))
  t.ok(isRedisRefusal(coded('DEPTH_ZERO_SELF_SIGNED_CERT')))
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND']) t.notOk(isRedisRefusal(coded(code)), code)
  t.notOk(isRedisRefusal(new Error('LOADING Redis is loading the dataset in memory')), 'a server still loading is worth the wait')
})
