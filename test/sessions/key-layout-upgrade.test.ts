import t from 'tap'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

/**
 * The key layout changed (sfb:circuit:{acme} became sfb:{acme}:circuit, one Cluster slot per
 * connection). A circuit an older release opened is lockout-guard state: a rolling upgrade must
 * not forget it and try the failing password again.
 */
t.test('an open circuit written under the previous key layout still holds after the upgrade', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password', { password: 'not-the-password' }), 0)
  const version = (await store.read('acme'))?.version as number
  const now = Date.now()
  // what the previous release wrote (src/shared-state/redis-state.ts before the one-slot layout)
  await redis.client().set('sfbtest:circuit:{acme}', JSON.stringify({
    secretVersion: version, classification: 'invalid_credentials', message: 'authentication failure', hint: 'check the password', failures: 1, openedAt: now, retryAt: now + 600_000,
  }), 'PX', 600_000)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals })
  for (let i = 0; i < 100 && (await app.inject({ url: '/health/ready' })).statusCode !== 200; i++) await new Promise(resolve => setTimeout(resolve, 50))
  const res = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(res.statusCode, 503)
  t.equal(res.json().type, 'urn:sf-broker:problem:circuit_open')
  t.equal(sim.stats('acme').attempts, 0, 'no login with the password the old release saw fail')
})

/**
 * The rate hold was renamed (login-hold: became login-rate-hold:, to tell it from the transient
 * hold-off): the new release does not see a hold the previous one wrote. That costs at most one
 * more login of the user, which Salesforce answers with LOGIN_RATE_EXCEEDED again: not a failed
 * login (nothing toward the lockout), and the hold is written again under the new name.
 */
t.test('a rate hold written under the previous name costs one refused login at most, never a failed one', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  // Salesforce's hour of logins for the user is spent, and the previous release holds them back
  sim.org('acme').loginRatePerHour = 0
  const identity = `user:${ACME.username}`
  await redis.client().set(`sfbtest:{${identity}}:doc:login-hold`, JSON.stringify({ until: Date.now() + 3_600_000 }), 'PX', 3_600_000)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals })
  for (let i = 0; i < 100 && (await app.inject({ url: '/health/ready' })).statusCode !== 200; i++) await new Promise(resolve => setTimeout(resolve, 50))
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })

  const missed = await session()
  t.equal(missed.statusCode, 429)
  t.match(missed.json(), { type: 'urn:sf-broker:problem:login_budget_exhausted', classification: 'login_rate_exceeded' })
  t.equal(sim.stats('acme').attempts, 1, 'the old hold unseen: one login reached Salesforce')
  const held = await session()
  t.equal(held.statusCode, 429)
  t.match(held.json(), { type: 'urn:sf-broker:problem:login_budget_exhausted', classification: 'login_rate_exceeded' })
  t.equal(sim.stats('acme').attempts, 1, 'held again, under the new name: no second login')
  t.equal(await redis.client().exists(`sfbtest:{${identity}}:doc:login-rate-hold`), 1)

  t.equal(sim.org('acme').users.get(ACME.username)?.failedLogins, 0, 'no failed login at Salesforce')
  const health = await app.inject({ url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })
  t.match(health.json().connections[0], { loginGuard: { failures: 0 } }, 'none counted by the failure guard')
})
