import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { loginUserLease } from '../../src/shared-state/state-names.ts'
import { loginIdentity } from '../../src/sessions/login-identity.ts'
import { until } from '../support/redis-topologies.ts'

// A replica stopping (SIGTERM) stops waiting for a password login still in flight and hands the
// user's lease on at once. Salesforce may judge that login yet, so it counts as failed before the next
// replica reads the count. Here the guard already counts one failure (an admin's wrong candidate),
// the stored password was changed in Salesforce, and Salesforce is slow.
t.test('a password login still in flight at shutdown is counted before the lease is handed on: the next replica does not send one on top of it', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })])
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'], 100_000)
  const env = { SHUTDOWN_TIMEOUT_MS: '3000', LOGIN_TIMEOUT_MS: '10000', LOGIN_WAIT_TIMEOUT_MS: '20000', REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }
  const a = await listenTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })
  const b = (await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })).app
  const definition = acmeDefinition(sim, 'soap')
  await store.write('acme', definition, 0)
  const user = sim.org('acme').users.get(ACME.username)!

  // one failure counted by the guard and by Salesforce: an admin's wrong candidate
  const candidate = await b.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password: 'typo' } })
  t.equal(candidate.statusCode, 200, 'the validation answers (the candidate refused)')
  t.equal(user.failedLogins, 1)

  // the password is changed in Salesforce; Salesforce becomes slow
  user.password = 'changed-in-salesforce'
  sim.setLatency(3_000)
  const fromA = fetch(`${a.url}/v1/connections/acme/session`, { method: 'POST', headers: bearer(principals.billingKey) })
  const lease = new RedisKeys('sfbtest:').lease(loginUserLease(loginIdentity(definition)))
  const inspect = redis.client()
  t.teardown(() => inspect.quit())
  await until('replica A is logging in and holds the lease', async () => await inspect.exists(lease) === 1)

  const closed = a.app.close()
  const answerA = await fromA
  t.equal(answerA.status, 503)
  // a caller asks replica B right away: B takes the released lease
  const fromB = await b.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  await closed
  // A's login was sent before B asked: Salesforce has judged it (it answers in order of arrival)
  await until('Salesforce judged the login A gave up on', () => sim.stats('acme').attempts >= 2)
  t.equal(fromB.statusCode, 429, 'B sends no login: the one A gave up on counts, and one more could lock the user')
  t.equal(fromB.json().code, 'login_guarded')
  t.equal(user.lockedUntil, 0, 'the integration user is not locked')
  t.ok(user.failedLogins <= 2, `at most LOCKOUT_THRESHOLD - 1 failed logins at Salesforce (${user.failedLogins})`)
})
