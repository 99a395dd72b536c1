import t, { type Test } from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

/**
 * After the announced end of a login flow (the calendar injected: FLOW_SUNSET_* dates and `now`),
 * a connection still on it sends Salesforce no login that cannot succeed: its session requests
 * answer 503 flow_retired with the way out, health reports it failing, and an admin who knows the
 * org's date is later opts the connection out.
 */
const AFTER_PASSWORD_FLOW = () => Date.parse('2027-03-01T00:00:00Z')

async function retiredApp (t: Test, env: Record<string, string> = {}) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('pw', acmeDefinition(sim, 'oauth_password'), 0)
  await store.write('cc', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals(['pw', 'cc'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env, overrides: { now: AFTER_PASSWORD_FLOW } })
  const session = (name: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { sim, app, session, admin }
}

t.test('a session request on a retired flow answers 503 flow_retired with the migration hint, and no login reaches Salesforce', async (t) => {
  const { sim, session, admin } = await retiredApp(t)
  for (let i = 0; i < 5; i++) {
    const res = await session('pw')
    t.equal(res.statusCode, 503)
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.match(res.json(), { type: 'urn:sf-broker:problem:flow_retired', code: 'flow_retired', connection: 'pw', detail: /oauth_password.*2027-02-20/, hint: /migration.*jwt_bearer.*acceptRetiredFlow=true/, retryable: false })
  }
  t.equal(sim.stats('acme').attempts, 0, 'no login sent')

  const checked = await admin('POST', '/health/salesforce/pw/check')
  t.equal(checked.statusCode, 200, checked.body)
  const pw = (await admin('GET', '/health/salesforce')).json().connections.find((c: { connection: string }) => c.connection === 'pw')
  t.match(pw, { status: 'failing', classification: 'flow_retired', checkKind: 'none', hint: /jwt_bearer/ })
  t.equal(sim.stats('acme').attempts, 0, 'the health check sent none either')

  t.equal((await session('cc')).statusCode, 200, 'a surviving flow serves as before')
  t.equal(sim.stats('acme').attempts, 1)
})

t.test('an admin opts a connection out with acceptRetiredFlow: its session requests log in again', async (t) => {
  const { sim, session, admin } = await retiredApp(t)
  t.equal((await session('pw')).statusCode, 503)
  const optedOut = await admin('PUT', '/v1/admin/connections/pw?acceptRetiredFlow=true', acmeDefinition(sim, 'oauth_password'))
  t.equal(optedOut.statusCode, 200, optedOut.body)
  t.equal(optedOut.json().acceptRetiredFlow, true, 'kept with the connection')
  t.equal((await admin('GET', '/v1/admin/connections/pw')).json().acceptRetiredFlow, true)
  const served = await session('pw')
  t.equal(served.statusCode, 200, served.body)
  const checked = (await admin('POST', '/health/salesforce/pw/check')).json()
  t.not(checked.classification, 'flow_retired')

  // a later replace without the flag puts the connection back under the retirement
  t.equal((await admin('PUT', '/v1/admin/connections/pw', acmeDefinition(sim, 'oauth_password'))).statusCode, 200)
  t.equal((await admin('GET', '/v1/admin/connections/pw')).json().acceptRetiredFlow, undefined)
  t.equal((await admin('POST', '/v1/admin/connections/pw/sessions/revoke')).statusCode, 200, 'its cached sessions killed')
  const before = sim.stats('acme').attempts
  t.match((await session('pw')).json(), { code: 'flow_retired' })
  t.equal(sim.stats('acme').attempts, before, 'no login')
})

t.test('a date moved later by configuration is honoured: the flow is not retired yet', async (t) => {
  const { sim, session } = await retiredApp(t, { FLOW_SUNSET_OAUTH_PASSWORD_DATE: '2027-09-01' })
  t.equal((await session('pw')).statusCode, 200)
  t.equal(sim.stats('acme').attempts, 1)
})
