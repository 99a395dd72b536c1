import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { ALIVE_TRUSTED_MS } from '../../src/sessions/rejection-check.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

// Fleet-wide: three replicas on one real Redis share the failure guard, the budget and the token verdicts.

async function fleet (t: Parameters<typeof startSim>[0], env: Record<string, string> = {}) {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })], 30)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'], 100_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 3; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env: { SECRET_CACHE_TTL_SECONDS: '0', ...env } })).app)
  const admin = (i: number, method: 'PUT' | 'PATCH' | 'POST', url: string, payload?: object) =>
    apps[i % 3].inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (i: number, payload?: object) =>
    apps[i % 3].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload })
  return { sim, store, apps, admin, session }
}

t.test('3 replicas: concurrent wrong candidates on every replica never lock the user', async (t) => {
  const { sim, admin } = await fleet(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  const answers = await Promise.all([
    ...Array.from({ length: 6 }, (_, i) => admin(i, 'PATCH', '/v1/admin/connections/acme/credentials', { password: `wrong-${i}` })),
    ...Array.from({ length: 4 }, (_, i) => admin(i, 'POST', '/v1/admin/connections/acme/validate', { password: `wrong-v${i}` })),
  ])
  const user = sim.org('acme').users.get(ACME.username)!
  t.ok(user.failedLogins <= 2, `${user.failedLogins} failed logins at Salesforce (at most 2)`)
  t.equal(user.lockedUntil, 0, 'not locked')
  t.equal(answers.filter(a => a.statusCode === 429).length, 10 - sim.stats('acme').failures, 'every other one was refused by the guard')
  t.ok(answers.filter(a => a.statusCode === 429).every(a => a.json().type === 'urn:sf-broker:problem:login_guarded'))
})

t.test('3 replicas: 30 false rejectedToken claims cost no login; an expired session costs exactly one', async (t) => {
  const { sim, store, session } = await fleet(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const live = (await session(0)).json().accessToken
  const claims = await Promise.all(Array.from({ length: 30 }, (_, i) => session(i, { rejectedToken: live })))
  t.same([...new Set(claims.map(c => c.json().accessToken))], [live])
  t.equal(sim.stats('acme').attempts, 1, 'no login for false claims')

  await new Promise(resolve => setTimeout(resolve, ALIVE_TRUSTED_MS + 200))
  sim.expireSessions('acme')
  const healed = await Promise.all(Array.from({ length: 30 }, (_, i) => session(i, { rejectedToken: live })))
  t.same([...new Set(healed.map(c => c.statusCode))], [200])
  t.equal(new Set(healed.map(c => c.json().accessToken)).size, 1, 'every replica hands out the one new session')
  t.equal(sim.stats('acme').attempts, 2, 'exactly one login fleet-wide')
})

t.test('3 replicas: the login budget is counted fleet-wide', async (t) => {
  const { sim, store, admin } = await fleet(t, { SALESFORCE_LOGINS_PER_HOUR: '3' })
  for (const n of ['b1', 'b2', 'b3', 'b4']) await store.write(n, acmeDefinition(sim, 'jwt_bearer'), 0)
  const answers = []
  for (const [i, n] of ['b1', 'b2', 'b3', 'b4'].entries()) answers.push(await admin(i, 'POST', `/v1/admin/connections/${n}/validate`))
  t.same(answers.map(a => a.statusCode), [200, 200, 200, 429])
  t.equal(sim.stats('acme').attempts, 3, 'three logins in all, from three replicas')
})

t.test('kill switch while Redis is down: revoked at Salesforce, and the answer says the fleet-wide purge is pending (202)', async (t) => {
  const sim = await startSim(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals })
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const s = (await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).json()
  await redis.stop()
  const r = await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.adminKey) })
  t.equal(r.statusCode, 202)
  t.match(r.json(), { revoked: 1, confirmedBySalesforce: 1 })
  t.match(r.json().pending[0], /fleet-wide purge/)
  const limits = await fetch(`${s.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s.accessToken}` } })
  t.equal(limits.status, 401)
})
