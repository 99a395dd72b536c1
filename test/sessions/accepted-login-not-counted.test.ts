import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

// The guard's count is Salesforce's: it lasts until a successful login of the user. Salesforce
// accepted the password (a loginResponse with a session; its count is back to zero) though the
// broker will not use the answer (an instance URL outside the login URL policy): the guard's count
// goes back to zero too, and no circuit opens on a right password.
t.test('a password Salesforce accepted is not counted as a failed login', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'], 100_000)
  // the login host is allowed; the org's instance (its My Domain on another port) is not
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { LOGIN_URL_ALLOWLIST: new URL(sim.loginUrl).origin, REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' } })
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const user = sim.org('acme').users.get(ACME.username)!

  const typo = await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password: 'typo' } })
  t.equal(typo.json().ok, false)
  t.equal(user.failedLogins, 1)

  const r = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(r.statusCode, 503, 'the session is not served (its instance is not an allowed host)')
  t.notMatch(r.json().detail, /failed logins/, 'and the answer counts no failed login')
  t.equal(sim.stats('acme').successes, 1, 'Salesforce accepted the stored password')
  t.equal(user.failedLogins, 0, 'so its count is back to zero')
  const health = (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json()
  t.equal(health.connections[0].loginGuard.failures, 0, 'and so is the guard\'s')
  t.equal(health.connections[0].loginGuard.blocked, false)
})
