import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

// Two replicas whose clocks disagree (here by 2 minutes). Replica A logs in successfully, which
// resets the user's count with A's time stamp. The failed logins replica B counts afterwards carry
// B's earlier time, yet they came after the reset B had read: they count.
t.test('replicas with skewed clocks: failures counted after another replica\'s reset are never forgotten', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })])
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'], 100_000)
  const env = { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }
  const a = (await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env, overrides: { clock: () => Date.now() + 120_000 } })).app
  const b = (await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env, overrides: { clock: () => Date.now() } })).app
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const user = sim.org('acme').users.get(ACME.username)!
  const validate = (app: typeof a, password: string) => app.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password } })

  // an admin's typo on A, then a caller's session on A: Salesforce's count is back to zero, and so is the guard's
  t.equal((await validate(a, 'typo')).json().ok, false)
  const served = await a.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(served.statusCode, 200)
  t.equal(user.failedLogins, 0)

  // an admin tries three wrong candidates on B
  const codes: number[] = []
  for (const c of ['wrong-1', 'wrong-2', 'wrong-3']) codes.push((await validate(b, c)).statusCode)
  t.same(codes, [200, 200, 429], 'two candidates reach Salesforce, the third is refused by the guard')
  t.equal(user.failedLogins, 2, 'one short of the lockout')
  t.equal(user.lockedUntil, 0, 'the integration user is not locked')
})
