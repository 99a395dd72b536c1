import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import t from 'tap'
import type { RedisSettings } from '../../src/shared-state/redis-client.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { RedisSharedState } from '../../src/shared-state/redis-state.ts'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore, TEST_KEY, type Teardown } from '../helper.ts'
import { firstConnectOrMinute } from '../support/first-connect.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'
import { makePki, startSecureRedis, type SecureRedis } from '../support/redis-tls.ts'
import { BROKER_ACL_RULES, BROKER_SENTINEL_ACL_RULES, RedisClusterSet, SentinelSet, until } from '../support/redis-topologies.ts'

/** Redis as a platform team runs it: TLS with client certificates, an ACL user with least privilege, sentinels and a Cluster that require a password. */

async function serve (t: Teardown, env: Record<string, string>, logger?: Logger) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, ...(logger ? { logger } : {}), env: { SESSION_ENCRYPTION_KEY: TEST_KEY, REDIS_KEY_PREFIX: 'sfbtest:', ...env } })
  const ask = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  return { sim, app, ask, principals }
}

const ready = async (app: Awaited<ReturnType<typeof serve>>['app']) => {
  for (let i = 0; i < 100; i++) {
    if ((await app.inject({ url: '/health/ready' })).statusCode === 200) return true
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return false
}

/** The broker's settings for startSecureRedis(): TLS with the client certificate, as its ACL user. */
const tlsEnvOf = (redis: SecureRedis) => ({
  REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
  REDIS_USERNAME: redis.username,
  REDIS_PASSWORD: redis.password,
  REDIS_TLS_CA_FILE: redis.pki.caFile,
  REDIS_TLS_CERT_FILE: redis.pki.clientCert,
  REDIS_TLS_KEY_FILE: redis.pki.clientKey,
})

/** The test's own connection to startSecureRedis(), allowed everything (ACL LOG, ACL SETUSER). */
function inspectorOf (t: Teardown, redis: SecureRedis): Redis {
  const inspector = new Redis<'legacy'>({ port: redis.port, host: '127.0.0.1', username: redis.adminUsername, password: redis.adminPassword, tls: { ca: readFileSync(redis.pki.caFile), cert: readFileSync(redis.pki.clientCert), key: readFileSync(redis.pki.clientKey) } })
  t.teardown(() => inspector.disconnect())
  return inspector
}

t.test('TLS only, client certificate required, ACL user: the broker caches sessions there', async (t) => {
  const redis = await startSecureRedis()
  t.teardown(() => redis.close())
  const tlsEnv = tlsEnvOf(redis)
  const { app, ask, sim, principals } = await serve(t, tlsEnv)
  t.ok(await ready(app), 'ready: Redis reached over TLS as the ACL user')
  t.equal((await ask()).statusCode, 200)
  t.equal((await ask()).statusCode, 200)
  t.equal(sim.stats('acme').attempts, 1, 'the second request was served from the cache')

  // what an admin and the scheduler do, under the least privilege the README recommends (no
  // @dangerous command but INFO): nothing the broker sends is denied (Redis lists denials in ACL LOG)
  const admin = (method: 'GET' | 'POST', url: string) => app.inject({ method, url, headers: bearer(principals.adminKey) })
  t.equal((await admin('POST', '/health/salesforce/acme/check')).statusCode, 200, 'a forced check')
  t.equal((await admin('POST', '/v1/admin/connections/acme/sessions/revoke')).statusCode, 200, 'the kill switch, every replica confirming')
  t.equal((await ask()).statusCode, 200, 'a new session after it')
  t.ok((await admin('GET', '/v1/admin/audit?connection=acme')).json().events.some((e: { action: string }) => e.action === 'sessions.revoke'), 'audited')
  t.same(await inspectorOf(t, redis).call('ACL', 'LOG'), [], 'no command of the broker was denied')

  // the same server refuses a wrong password and a client without a certificate: not ready
  const wrong = await serve(t, { ...tlsEnv, REDIS_PASSWORD: 'not-the-password' })
  const wrongReady = await wrong.app.inject({ url: '/health/ready' })
  t.equal(wrongReady.statusCode, 503, 'a wrong ACL password is not ready')
  t.match(wrongReady.json().checks.sharedState.detail, /refuses/, 'and readiness says Redis refuses the broker, not that it is unreachable')
  const noCert = await serve(t, { ...tlsEnv, REDIS_TLS_CERT_FILE: '', REDIS_TLS_KEY_FILE: '' })
  t.equal((await noCert.app.inject({ url: '/health/ready' })).statusCode, 503, 'no client certificate is not ready')
})

t.test('an ACL user that reaches Redis but not the broker\'s keys, writes or channel: not ready, saying so, and sessions as when Redis is down', async (t) => {
  const redis = await startSecureRedis()
  t.teardown(() => redis.close())
  const logs = captureLogs('info')
  const { app, ask, sim } = await serve(t, { ...tlsEnvOf(redis), REDIS_KEY_PREFIX: 'elsewhere:' }, logs.logger)
  const readiness = await app.inject({ url: '/health/ready' })
  t.equal(readiness.statusCode, 503, 'a prefix the ACL does not cover (sfbtest:* only): not ready')
  t.match(readiness.json().checks.sharedState, { ok: false, detail: /refuses/ })
  const answers = [await ask(), await ask()]
  t.same(answers.map(a => a.statusCode), [200, 200], 'sessions are served from process memory, as when Redis is down')
  t.equal(sim.stats('acme').attempts, 1, 'one login, then the process\'s cache')
  t.match(logs.text(), /"keyPrefix":"elsewhere:".*"reason":"NOPERM[^"]*","msg":"redis refuses the broker/, 'the log says why, with the prefix to allow')

  // users that may read the keys but not write them, or not use the channel: what PING and a read cannot see
  const inspector = inspectorOf(t, redis)
  const users = { 'read-only': ['%R~sfbtest:*', '&sfbtest:*'], 'no channel': ['~sfbtest:*', 'resetchannels'] }
  for (const [name, patterns] of Object.entries(users)) {
    const user = name.replace(' ', '-')
    await inspector.call('ACL', 'SETUSER', user, 'on', `>${redis.password}`, ...patterns, ...BROKER_ACL_RULES)
    const logs = captureLogs('info')
    const { app } = await serve(t, { ...tlsEnvOf(redis), REDIS_USERNAME: user }, logs.logger)
    await until(`${name}: not ready`, async () => (await app.inject({ url: '/health/ready' })).statusCode === 503, 10_000)
    t.match((await app.inject({ url: '/health/ready' })).json().checks.sharedState.detail, /refuses/, `${name}: Redis refuses the broker`)
    if (name !== 'no channel') continue
    // each readiness probe asks for the channel again (a corrected ACL needs no restart); Redis counts the refusals
    const refusedSubscriptions = async () => {
      const entries = await inspector.call('ACL', 'LOG') as Array<Array<string | number>>
      return entries.map(e => Object.fromEntries(Array.from({ length: e.length / 2 }, (_, i) => [e[2 * i], e[2 * i + 1]])))
        .filter(e => e.username === user && e.reason === 'channel').reduce((n, e) => n + Number(e.count), 0)
    }
    await until('three refused subscriptions', async () => {
      await app.inject({ url: '/health/ready' })
      return await refusedSubscriptions() >= 3
    }, 10_000)
    t.equal(logs.text().match(/redis subscribe failed/g)?.length, 1, 'the refused subscription is logged once, not at every probe')
  }
})

t.test('Sentinel with passwords on the sentinels and the data nodes', async (t) => {
  const set = await SentinelSet.start({ password: 'sentinel-and-node-password' })
  t.teardown(() => set.close())
  const { app, ask, sim } = await serve(t, { ...set.env, REDIS_PASSWORD: 'sentinel-and-node-password' })
  t.ok(await ready(app))
  t.equal((await ask()).statusCode, 200)
  const primary = set.node(await set.currentPrimary())
  t.ok((await primary.keys('sfbtest:*')).some(k => k.includes('acme')), 'the session is in the primary the sentinels named')
  t.equal(sim.stats('acme').attempts, 1)

  // a replica with the wrong password: the sentinels refuse it, and it starts without waiting for a change of mind
  const wrong = new RedisSharedState({ redis: { ...set.env, REDIS_PASSWORD: 'not-the-password' } as RedisSettings, keyPrefix: 'sfbtest:', sealer: new SessionSealer(randomBytes(32)), logger: captureLogs('info').logger })
  t.teardown(() => wrong.close())
  t.equal(await firstConnectOrMinute(wrong), false, 'refused: not connected, and no waiting')
})

t.test('Redis Cluster over TLS with an ACL user (as managed Redis offers it: in-transit encryption and AUTH)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-cluster-pki-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // the nodes authenticate to each other as the default user; the broker as an ACL user
  const broker = { name: 'sf-broker', password: 'broker-acl-password' }
  const set = await RedisClusterSet.start({
    password: 'cluster-node-password',
    tls: await makePki(dir),
    aclUser: { name: broker.name, rules: ['on', `>${broker.password}`, '~sfbtest:*', '&sfbtest:*', ...BROKER_ACL_RULES] },
  })
  t.teardown(() => set.close())
  t.match(set.env.REDIS_CLUSTER_NODES, /^rediss:\/\//, 'TLS seeds')
  const { app, ask, sim } = await serve(t, { ...set.env, REDIS_USERNAME: broker.name, REDIS_PASSWORD: broker.password })
  t.ok(await ready(app))
  t.equal((await ask()).statusCode, 200)
  let cached = 0
  for (const n of set.nodes) cached += (await set.node(n.port).keys('sfbtest:*')).filter(k => k.includes('acme')).length
  t.ok(cached > 0, 'the session is in the Cluster')
  t.equal(sim.stats('acme').attempts, 1)
  for (const n of set.nodes) t.same(await set.node(n.port).call('ACL', 'LOG'), [], `no command of the broker was denied on node ${n.port}`)

  // a replica with the wrong password: every node refuses it, and ioredis says only "Failed to refresh
  // slots cache." with the node's answer beside it; the replica starts at once and the log says why
  const logs = captureLogs('info')
  const wrong = new RedisSharedState({ redis: { ...set.env, REDIS_USERNAME: broker.name, REDIS_PASSWORD: 'not-the-password' } as RedisSettings, keyPrefix: 'sfbtest:', sealer: new SessionSealer(randomBytes(32)), logger: logs.logger })
  t.teardown(() => wrong.close())
  t.equal(await firstConnectOrMinute(wrong), false, 'refused: not connected, and no waiting')
  t.match(logs.text(), /redis unavailable/)
  t.match(logs.text(), /WRONGPASS/, 'the log names the refusal, not only the slots cache')
})

t.test('Sentinel with the broker as an ACL user on the sentinels and the data nodes', async (t) => {
  const broker = { name: 'sf-broker', password: 'broker-acl-password' }
  const set = await SentinelSet.start({
    password: 'sentinel-and-node-password',
    aclUser: {
      name: broker.name,
      rules: ['on', `>${broker.password}`, '~sfbtest:*', '&sfbtest:*', ...BROKER_ACL_RULES],
      sentinelRules: ['on', `>${broker.password}`, ...BROKER_SENTINEL_ACL_RULES],
    },
  })
  t.teardown(() => set.close())
  const { app, ask, principals } = await serve(t, { ...set.env, REDIS_USERNAME: broker.name, REDIS_PASSWORD: broker.password })
  t.ok(await ready(app))
  t.equal((await ask()).statusCode, 200)
  // a failover (ioredis hears +switch-master from a sentinel and asks for the new primary), then a
  // kill switch on the promoted node: purge, confirmation by every replica, audit
  const { newPort } = await set.killPrimary()
  // the broker's subscriber on the promoted node: until then the kill switch rightly answers 202
  const channel = new RedisKeys('sfbtest:').events
  await until('the broker subscribed on the new primary', async () => (await set.node(newPort).call('PUBSUB', 'NUMSUB', channel) as [string, number])[1] === 1)
  t.ok(await ready(app), 'ready again after the failover')
  const revoked = await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.adminKey) })
  t.equal(revoked.statusCode, 200, 'the kill switch after the failover')
  for (const p of [set.primary, set.replica, ...set.sentinels].filter(p => p.alive)) {
    t.same(await set.node(p.port).call('ACL', 'LOG'), [], `nothing denied on ${p.port}`)
  }
})

t.test('the README recommends the ACL rules these tests run the broker with', async (t) => {
  const readme = (await readFile(new URL('../../README.md', import.meta.url), 'utf8')).replace(/\s+/g, ' ')
  t.ok(readme.includes(`user sf-broker on >PASSWORD ~sfb:* &sfb:* ${BROKER_ACL_RULES.join(' ')}\``), 'data nodes')
  t.ok(readme.includes(`user sf-broker on >PASSWORD ${BROKER_SENTINEL_ACL_RULES.join(' ')}\``), 'sentinels')
})
