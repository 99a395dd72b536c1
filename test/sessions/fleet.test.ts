import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import type { BrokerOverrides } from '../../src/broker.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { captureLogs } from '../support/log-capture.ts'
import { redisHop } from '../support/redis-hop.ts'

const URL_ACME = '/v1/connections/acme/session'

/** Three broker replicas sharing one Redis and one secret store, as in a deployment. */
async function fleet (t: Teardown, env: Record<string, string> = {}, n = 3, overrides: BrokerOverrides = {}) {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 100_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < n; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env, overrides })).app)
  const ask = (i: number, payload?: object) => apps[i % n].inject({ method: 'POST', url: URL_ACME, headers: bearer(principals.billingKey), payload })
  return { redis, store, principals, apps, ask }
}

t.test('a cold connection: N concurrent requests across 3 replicas cause exactly one login', async (t) => {
  // Salesforce takes 300 ms to answer: every request arrives while the one login is under way
  const sim = await startSim(t, undefined, 300)
  const { store, ask } = await fleet(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => ask(i)))
  t.same([...new Set(answers.map(a => a.statusCode))], [200])
  t.equal(new Set(answers.map(a => a.json().accessToken)).size, 1, 'everyone got the same session')
  t.equal(sim.stats('acme').attempts, 1, 'exactly one Salesforce login')
})

t.test('lockout guard: N concurrent requests with a wrong password across 3 replicas cause one failed login per cool-down', async (t) => {
  const sim = await startSim(t, undefined, 50)
  // the replicas' clock of logins (circuits, cool-downs): the test moves it past a cool-down instead of waiting
  let ahead = 0
  const clock = () => Date.now() + ahead
  // the simulated org locks after 5 failed logins (acmeOrg): the broker's failure guard is told so
  const { store, ask, apps } = await fleet(t, { CIRCUIT_COOLDOWN_SECONDS: '2', CIRCUIT_MAX_COOLDOWN_SECONDS: '60', LOCKOUT_THRESHOLD: '5' }, 3, { clock })
  await store.write('acme', acmeDefinition(sim, 'oauth_password', { password: 'not-the-password' }), 0)
  const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => ask(i)))
  t.same([...new Set(answers.map(a => a.statusCode))], [503])
  const types = new Set(answers.map(a => a.json().type))
  t.ok([...types].every(x => x === 'urn:sf-broker:problem:salesforce_login_failed' || x === 'urn:sf-broker:problem:circuit_open'), [...types].join())
  const sample = answers[answers.length - 1].json()
  t.equal(sample.classification, 'invalid_credentials')
  t.match(sample.hint, /security token|locked/i)
  t.ok(Number(answers[answers.length - 1].headers['retry-after']) >= 1)
  t.equal(sim.stats('acme').failures, 1, 'one failed login at Salesforce')
  t.equal(sim.stats('acme').attempts, 1)

  // after the cool-down exactly one probe goes out, fleet-wide, then the pause doubles
  const sessions = apps[0].broker.sessions
  const first = await sessions.circuit('acme')
  t.equal(first?.failures, 1)
  ahead += Math.max(0, (first?.retryAt ?? 0) - clock()) + 100
  await Promise.all(Array.from({ length: 60 }, (_, i) => ask(i)))
  t.equal(sim.stats('acme').failures, 2, 'one probe after the cool-down')
  const second = await sessions.circuit('acme')
  t.equal(second?.failures, 2)
  const secondPause = (second?.retryAt ?? 0) - (first?.retryAt ?? 0)
  t.ok(secondPause >= 3_600, `the second pause is doubled (${secondPause} ms ≥ 2 × 2 s − 10 %)`)
  await Promise.all(Array.from({ length: 30 }, (_, i) => ask(i)))
  if (clock() < (second?.retryAt ?? 0)) t.equal(sim.stats('acme').failures, 2, 'no login during the second pause')
  t.notOk(sim.org('acme').users.get(ACME.username)?.lockedUntil, 'the integration user was never locked out')

  // a new secret version lifts the pause at once
  await apps[0].broker.cachingSecretStore.write('acme', acmeDefinition(sim, 'oauth_password'), 1)
  const healed = await ask(0)
  t.equal(healed.statusCode, 200)
})

t.test('rotation on one replica reaches the others at once', async (t) => {
  const sim = await startSim(t)
  const { store, ask, apps, principals } = await fleet(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const old = (await ask(1)).json().accessToken
  const res = await apps[0].inject({
    method: 'PATCH',
    url: '/v1/admin/connections/acme/credentials',
    headers: bearer(principals.adminKey),
    payload: { clientSecret: ACME.clientSecret },
  })
  t.equal(res.statusCode, 200)
  t.equal(res.json().version, 2)
  const after = await ask(1)
  t.equal(after.statusCode, 200)
  t.equal(after.json().accessToken, (await ask(2)).json().accessToken, 'every replica serves the adopted session')
  t.ok(old, 'had a session before')
})

t.test('Redis stopped mid-run: cached sessions keep flowing, logins single-flight per process, recovery without restart', async (t) => {
  const sim = await startSim(t, undefined, 100)
  const logs = captureLogs('info')
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('other', acmeDefinition(sim, 'jwt_bearer'), 0)
  const principals = testPrincipals(['acme', 'other'], 100_000)
  const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, logger: logs.logger })
  const ask = (name: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })

  const token = (await ask('acme')).json().accessToken
  await redis.stop()
  const during = await Promise.all(Array.from({ length: 20 }, () => ask('acme')))
  t.same([...new Set(during.map(r => r.statusCode))], [200], 'served while Redis is down')
  t.same([...new Set(during.map(r => r.json().accessToken))], [token])

  const cold = await Promise.all(Array.from({ length: 20 }, () => ask('other')))
  t.same([...new Set(cold.map(r => r.statusCode))], [200], 'a cold connection logs in directly')
  t.equal(sim.stats('acme').attempts, 2, 'one login for acme, one for the cold connection')
  t.match(logs.text(), /shared state unavailable/)

  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().checks.sharedState.ok, false)

  await redis.start()
  // the client reconnects by itself (backoff capped at 2 s)
  let readyAgain = 0
  for (let i = 0; i < 60 && readyAgain !== 200; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    readyAgain = (await app.inject({ url: '/health/ready' })).statusCode
  }
  t.equal(readyAgain, 200, 'ready again without a restart')
  sim.expireSessions('acme')
  const fresh = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload: { rejectedToken: token } })
  t.equal(fresh.statusCode, 200)
  const keys = await redis.client().keys('sfbtest:*:session:v*')
  t.ok(keys.length >= 1, 'sessions are written to Redis again')
})

t.test('sessions are encrypted at rest in Redis', async (t) => {
  const sim = await startSim(t)
  const { store, ask, redis } = await fleet(t, {}, 1)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const token = (await ask(0)).json().accessToken
  const client = redis.client()
  const keys = await client.keys('sfbtest:*:session:v*')
  t.equal(keys.length, 1)
  const raw = await client.get(keys[0])
  t.ok(raw && !raw.includes(token), 'the access token is not readable in Redis')
  t.ok(raw && !raw.includes('instance'), 'nothing of the session is readable')
})

t.test('the kill switch reaches a session stored by a login still finishing on another replica: neither its caller nor that replica\'s cache gets it', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  // replica 0 reaches Redis through a slow link: its login's last steps (the event, the lease's release,
  // health's record) come well after the session it stored is visible to every replica
  const hop = await redisHop(t, redis.port)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals(['acme'], 100_000)
  const apps: FastifyInstance[] = []
  for (const url of [hop.url, redis.url]) apps.push((await buildTestApp(t, { redisUrl: url, secretStore: store, principals })).app)
  const ask = (i: number) => apps[i].inject({ method: 'POST', url: URL_ACME, headers: bearer(principals.billingKey) })
  const works = async (s: { instanceUrl: string, accessToken: string }) =>
    (await fetch(`${s.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s.accessToken}` } })).status === 200

  // told the moment replica 0's login lands in Redis (keyspace events, not polling)
  const watcher = redis.client()
  await redis.client().config('SET', 'notify-keyspace-events', 'K$')
  await watcher.subscribe('__keyspace@0__:sfbtest:{acme}:session:v1')
  const stored = new Promise<void>(resolve => watcher.once('message', () => resolve()))

  hop.delay(100)
  const asked = ask(0)
  await stored
  // the kill switch on replica 1, while replica 0 is still finishing that login
  const killed = await apps[1].inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.adminKey) })
  t.equal(killed.statusCode, 200, 'done everywhere: replica 0 confirmed the purge')
  t.equal(killed.json().revoked, 1, 'the session just stored was revoked')
  const first = await asked
  t.equal(first.statusCode, 200)
  t.ok(await works(first.json()), 'the caller of that login is not handed the session the kill switch revoked')
  hop.delay(0)
  const next = await ask(0)
  t.equal(next.statusCode, 200)
  t.ok(await works(next.json()), 'replica 0 does not keep the revoked session in its process cache')
})

t.test('a session the kill switch took back is not served from a replica\'s process memory once Redis goes down', async (t) => {
  const sim = await startSim(t)
  const { redis, store, apps, ask, principals } = await fleet(t, {}, 2)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const works = async (s: { instanceUrl: string, accessToken: string }) =>
    (await fetch(`${s.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s.accessToken}` } })).status === 200
  const leaked = (await ask(0)).json().accessToken as string
  // replica 1 serves it too: read from Redis, and kept in its memory to ride out an outage
  t.equal((await ask(1)).json().accessToken, leaked)
  const killed = await apps[0].inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.adminKey) })
  t.equal(killed.statusCode, 200, 'every replica confirmed dropping it')
  t.equal(killed.json().revoked, 1)
  await redis.stop()
  const during = await ask(1)
  t.equal(during.statusCode, 200)
  t.not(during.json().accessToken, leaked, 'not the session the kill switch revoked')
  t.ok(await works(during.json()), 'a session that works at Salesforce')
})
