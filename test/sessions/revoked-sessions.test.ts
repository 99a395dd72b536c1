import t, { type Test } from 'tap'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

// Any holder of the shared session can revoke it at Salesforce and report it dead. What a verified
// dead session may cost, and what the kill switch reaches: read at the simulator.

async function setup (t: Test, env: Record<string, string> = {}) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env })
  const session = (connection = 'acme', payload?: object) => app.inject({ method: 'POST', url: `/v1/connections/${connection}/session`, headers: bearer(principals.billingKey), payload })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const revokeAtSalesforce = async (token: string) => {
    const r = await fetch(`${sim.loginUrl}/services/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) })
    t.equal(r.status, 200, 'revoked at Salesforce')
  }
  const works = async (s: { instanceUrl: string, accessToken: string }) =>
    (await fetch(`${s.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s.accessToken}` } })).status === 200
  return { sim, store, app, session, admin, revokeAtSalesforce, works }
}

t.test('a caller revoking sessions cannot spend the login budget, and a session verified dead is never handed out again', async (t) => {
  const { sim, store, session, revokeAtSalesforce } = await setup(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const first = (await session()).json().accessToken as string
  await revokeAtSalesforce(first)
  const healed = await session('acme', { rejectedToken: first })
  t.equal(healed.statusCode, 200)
  const second = healed.json().accessToken as string
  t.not(second, first)
  t.equal(sim.stats('acme').attempts, 2, 'one login replaced the dead session')

  // the same caller (and a second one) revoke again and again within the floor
  const answers = []
  for (let cycle = 0; cycle < 10; cycle++) {
    const current = (await session()).json().accessToken as string | undefined
    if (current !== undefined) await revokeAtSalesforce(current)
    answers.push(await session('acme', { rejectedToken: current ?? second }))
  }
  t.equal(sim.stats('acme').attempts, 2, 'no more logins inside REVOKED_SESSION_LOGIN_INTERVAL_SECONDS')
  const throttled = answers.find(a => a.statusCode === 429)
  t.match(throttled?.json(), { code: 'session_renewal_throttled', retryable: true })
  t.equal(throttled?.headers['retry-after'], '10')
  const plain = await session()
  t.equal(plain.statusCode, 429, 'a plain request is not handed the revoked session either')
  t.not(plain.json().accessToken, second)
})

t.test('the login budget is the Salesforce user\'s, across flows', async (t) => {
  const { sim, store, session, admin } = await setup(t)
  await store.write('by-password', acmeDefinition(sim, 'oauth_password'), 0)
  // the app's client-credentials Run-As user is the same Salesforce user
  await store.write('by-app', acmeDefinition(sim, 'client_credentials'), 0)
  t.equal((await session('by-password')).statusCode, 200)
  t.equal((await session('by-app')).statusCode, 200)
  const health = (await admin('GET', '/health/salesforce')).json()
  const budget = Object.fromEntries(health.connections.map((c: { connection: string, loginBudget: { used: number } }) => [c.connection, c.loginBudget.used]))
  t.same(budget, { 'by-app': 2, 'by-password': 2 }, 'both connections show the user\'s two logins')
})

t.test('the kill switch revokes every session handed out that may still be alive, not only the cached one', async (t) => {
  const { sim, store, session, admin, works } = await setup(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const handedOut = (await session()).json()
  // an admin's validation adopts a new session; then a replace (REVOKE_ON_ROTATION=false by default) another
  t.equal((await admin('POST', '/v1/admin/connections/acme/validate')).statusCode, 200)
  const afterValidate = (await session()).json()
  t.not(afterValidate.accessToken, handedOut.accessToken, 'the cache holds the validation\'s session')
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 200)
  t.ok(await works(handedOut), 'the first session still works at Salesforce')

  const killed = await admin('POST', '/v1/admin/connections/acme/sessions/revoke')
  t.equal(killed.statusCode, 200)
  t.match(killed.json(), { revoked: 3, confirmedBySalesforce: 3, pending: [] })
  t.notOk(await works(handedOut), 'the session handed out before the validation is dead')
  t.notOk(await works(afterValidate), 'and so is the one after it')
  const again = await admin('POST', '/v1/admin/connections/acme/sessions/revoke')
  t.match(again.json(), { revoked: 0, confirmedBySalesforce: 0 }, 'counted honestly: nothing left to revoke')
})

t.test('REVOKE_ON_ROTATION: a migration\'s switch revokes every session of the old flow, the cached one and those handed out before it', async (t) => {
  const { sim, store, session, admin, works } = await setup(t, { REVOKE_ON_ROTATION: 'true' })
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const handedOut = (await session()).json()
  // an admin's validation puts its own session in the cache: the first one is now only handed out
  t.equal((await admin('POST', '/v1/admin/connections/acme/validate')).statusCode, 200)
  const cached = (await session()).json()
  t.not(cached.accessToken, handedOut.accessToken)

  const migration = '/v1/admin/connections/acme/migration'
  t.equal((await admin('POST', migration, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret })).statusCode, 201)
  t.equal((await admin('POST', `${migration}/validate`)).json().classification, 'ok')
  t.equal((await admin('POST', `${migration}/complete`)).statusCode, 200)
  t.notOk(await works(cached), 'the cached session of the old flow is revoked')
  t.notOk(await works(handedOut), 'and so is the one handed out before it')
  t.equal((await session()).statusCode, 200, 'callers get the new flow\'s session')
})
