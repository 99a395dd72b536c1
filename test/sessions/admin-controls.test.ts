import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

// The admin controls of the one door: the re-probe, If-Match: *, the kill switch and the audit of sessions handed out.

t.test('a probe logs in with the stored secret while the circuit is open, only while the guard leaves room; audited', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { CIRCUIT_COOLDOWN_SECONDS: '600' } })
  const admin = bearer(principals.adminKey)
  const check = (payload?: object) => app.inject({ method: 'POST', url: '/health/salesforce/acme/check', headers: admin, payload })
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)

  // the integration user lost API access: the first login fails and opens the circuit for 10 minutes
  const user = sim.org('acme').users.get(ACME.username)!
  user.apiEnabled = false
  t.equal((await session()).statusCode, 503)
  const attempts = sim.stats('acme').attempts
  t.match((await app.inject({ url: '/health/salesforce?connection=acme', headers: admin })).json().connections[0], { circuit: { state: 'open' } })

  // the admin fixes it in Salesforce and probes now (a plain forced check would make no login: test/health/routes.test.ts)
  user.apiEnabled = true
  const probed = await check({ probe: true })
  t.equal(probed.statusCode, 200)
  t.match(probed.json(), { status: 'ok', checkKind: 'full', circuit: { state: 'closed' } })
  t.equal(sim.stats('acme').attempts, attempts + 1, 'exactly one login')
  t.equal((await session()).statusCode, 200, 'callers are served at once')
  const audit = await app.inject({ url: '/v1/admin/audit?connection=acme', headers: admin })
  t.match(audit.json().events.find((e: { action: string }) => e.action === 'health.probe'), { outcome: 'success', actor: 'ops', target: new URL(sim.loginUrl).origin })
})

t.test('no probe when the guard leaves no room: 429 login_guarded, nothing sent', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: { maxAttempts: 3, durationSeconds: 900 } })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale' }), 0)
  // two wrong candidates spend the room the guard leaves
  for (const password of ['w1', 'w2']) {
    await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password } })
  }
  const attempts = sim.stats('acme').attempts
  const probe = await app.inject({ method: 'POST', url: '/health/salesforce/acme/check', headers: bearer(principals.adminKey), payload: { probe: true } })
  t.equal(probe.statusCode, 429)
  t.match(probe.json(), { type: 'urn:sf-broker:problem:login_guarded', failures: 2, lockoutThreshold: 3 })
  t.equal(sim.stats('acme').attempts, attempts)
  t.equal(sim.org('acme').users.get(ACME.username)!.lockedUntil, 0)
})

t.test('If-Match: * means any current version (RFC 9110), and nothing for a connection that does not exist', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { principals })
  const put = (name: string, ifMatch: string) => app.inject({ method: 'PUT', url: `/v1/admin/connections/${name}`, headers: { ...bearer(principals.adminKey), 'if-match': ifMatch }, payload: acmeDefinition(sim, 'client_credentials') })
  t.equal((await put('acme', '*')).statusCode, 409, 'no current version to match')
  t.equal((await put('acme', '"0"')).statusCode, 201)
  t.equal((await put('acme', '*')).statusCode, 200)
  const patch = await app.inject({ method: 'PATCH', url: '/v1/admin/connections/acme/credentials', headers: { ...bearer(principals.adminKey), 'if-match': '*' }, payload: { clientSecret: ACME.clientSecret } })
  t.equal(patch.statusCode, 200)
  t.equal(patch.json().version, 3)
})

t.test('kill switch: every session of the connection revoked at Salesforce and purged fleet-wide; audited; the next request logs in once', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  const old = (await session()).json()
  const limits = (token: string) => fetch(`${old.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${token}` } })
  t.equal((await limits(old.accessToken)).status, 200)

  const r = await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.adminKey) })
  t.equal(r.statusCode, 200)
  t.same(r.json(), { revoked: 1, confirmedBySalesforce: 1, pending: [] })
  t.equal((await limits(old.accessToken)).status, 401, 'dead at Salesforce')
  const attempts = sim.stats('acme').attempts
  const fresh = (await session()).json()
  t.not(fresh.accessToken, old.accessToken)
  t.equal(sim.stats('acme').attempts, attempts + 1, 'one new login')
  const audit = await app.inject({ url: '/v1/admin/audit?connection=acme', headers: bearer(principals.adminKey) })
  t.match(audit.json().events.find((e: { action: string }) => e.action === 'sessions.revoke'), { outcome: 'success', actor: 'ops', target: new URL(old.instanceUrl).origin })
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/connections/nope/sessions/revoke', headers: bearer(principals.adminKey) })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/sessions/revoke', headers: bearer(principals.billingKey) })).statusCode, 403)
})

t.test('sessions handed out are audited (caller, version, token fingerprint, expiry), queryable by connection and caller; per connection', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('quiet', acmeDefinition(sim, 'jwt_bearer', { auditSessions: false }), 0)
  const ask = (name: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })
  const first = (await ask('acme')).json()
  await ask('acme')
  await ask('quiet')
  await new Promise(resolve => setTimeout(resolve, 50))
  const events = async (query: string) => (await app.inject({ url: `/v1/admin/audit?action=session.issued&${query}`, headers: bearer(principals.adminKey) })).json().events
  const byConnection = await events('connection=acme')
  t.equal(byConnection.length, 1, 'once per caller and session')
  t.match(byConnection[0], { actor: 'billing', connection: 'acme', version: 1, outcome: 'success', expiresAt: first.expiresAt })
  t.match(byConnection[0].tokenFingerprint, /^[0-9a-f]{12}$/)
  t.same((await events('actor=billing')).map((e: { connection: string }) => e.connection), ['acme'], 'queryable by caller; the connection that opted out is not audited')
  t.same(await events('actor=ops'), [])
  const adminOnly = (await app.inject({ url: '/v1/admin/audit', headers: bearer(principals.adminKey) })).json().events
  t.notOk(adminOnly.some((e: { action: string }) => e.action === 'session.issued'), 'the default listing shows admin actions only')
  const raw = JSON.stringify(await events('connection=acme'))
  t.notOk(raw.includes(first.accessToken), 'never the token')
  const meta = await app.inject({ url: '/v1/admin/connections/quiet', headers: bearer(principals.adminKey) })
  t.equal(meta.json().auditSessions, false)
})
