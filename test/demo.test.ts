import t from 'tap'
import { bearer, buildTestApp, tempFileStore } from './helper.ts'
import { DEMO_APP, DEMO_USER, startDemo } from '../scripts/demo.ts'
import { demoAddresses, demoCalendar } from './support/demo-banner.ts'
import { testPrincipals } from './support/principals.ts'

/**
 * The demo seeds a username-password connection, so a newcomer sees its sunset in health
 * and can migrate it by following the README ("Before 2027-02-20").
 */
t.test('the demo\'s password connection shows its flow sunset and migrates to JWT bearer as the README says', async (t) => {
  const demo = await startDemo({ PORT: '0' }) // not the default port: the simulator then takes a free one
  t.teardown(() => demo.close())
  const store = await tempFileStore(t)
  await demo.seed(store)
  const principals = testPrincipals(['demo-password'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, overrides: { now: () => Date.parse('2027-01-01T12:00:00Z') } })
  const admin = bearer(principals.adminKey)
  const sim = /SIM=(\S+)/.exec(demo.banner({ address: '127.0.0.1', port: 3000, family: 'IPv4' }))![1]
  // the broker's calendar stands before the flow's end: so does the demo simulator's, which otherwise refuses the flow from that date by the real clock
  const kept = await fetch(`${sim}/_sim/orgs/demo`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ oauthPasswordFlowRetiredAt: '9999-01-01T00:00:00Z' }) })
  t.equal(kept.status, 200)
  t.equal((await app.inject({ method: 'POST', url: '/health/salesforce/demo-password/check', headers: admin })).statusCode, 200)
  const legacy = (await app.inject({ url: '/health/salesforce', headers: admin })).json().connections.find((c: { connection: string }) => c.connection === 'demo-password')
  t.equal(legacy.status, 'warn')
  t.match(legacy.flowSunset, { flow: 'oauth_password', date: '2027-02-20' })

  const put = (path: string, body?: object) => fetch(`${sim}/_sim/orgs/demo${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  const call = (url: string, payload?: object) => app.inject({ method: 'POST', url: `/v1/admin/connections/demo-password/migration${url}`, headers: admin, payload })
  t.equal((await call('', { flow: 'jwt_bearer' })).statusCode, 201)
  const pem = (await app.inject({ url: '/v1/admin/connections/demo-password/migration/certificate', headers: admin })).body
  t.ok((await put('/apps/3MVG9demo.eca', { clientSecret: 'eca-secret', permittedUsers: 'admin_approved' })).ok)
  t.ok((await put('/apps/3MVG9demo.eca/certificate', { certificatePem: pem })).ok)
  t.equal((await call('/validate', { clientId: '3MVG9demo.eca' })).json().classification, 'user_not_approved')
  t.ok((await put('/apps/3MVG9demo.eca/preauthorized/integration@demo.example')).ok)
  t.equal((await call('/validate')).json().classification, 'ok')
  t.equal((await call('/complete')).json().connection.flow, 'jwt_bearer')
  const session = await app.inject({ method: 'POST', url: '/v1/connections/demo-password/session', headers: bearer(principals.billingKey) })
  t.equal(session.statusCode, 200, 'the migrated connection serves')
})

t.test('a demo started after the flow\'s end says so, and names the start with which the README\'s password rotation runs as written', async (t) => {
  const startedAt = Date.now()
  const ended = await startDemo({ PORT: '0', FLOW_SUNSET_OAUTH_PASSWORD_DATE: '2025-06-01' })
  t.teardown(() => ended.close())
  const banner = ended.banner({ address: '127.0.0.1', port: 3000, family: 'IPv4' })
  t.match(banner, /demo-password's flow ended on 2025-06-01, in this org as in Salesforce \(health: failing, flow_retired\)/)
  t.notMatch(banner, /retires on/)
  // the day the README admin journey is run with (test/cli/readme-admin.test.ts), as a newcomer would type it
  const suggested = /FLOW_SUNSET_OAUTH_PASSWORD_DATE=(\d{4}-\d{2}-\d{2}) npm run demo/.exec(banner)?.[1]
  // (read on both sides of the banner: a run across midnight UTC moves the day)
  t.ok([demoCalendar(startedAt), demoCalendar()].some(c => c.FLOW_SUNSET_OAUTH_PASSWORD_DATE === suggested), 'the day the journey is proven with')

  // what the banner explains: the broker and the demo org both refuse the flow
  const store = await tempFileStore(t)
  await ended.seed(store)
  const principals = testPrincipals(['demo-password'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { FLOW_SUNSET_OAUTH_PASSWORD_DATE: '2025-06-01' } })
  const check = await app.inject({ method: 'POST', url: '/health/salesforce/demo-password/check', headers: bearer(principals.adminKey) })
  t.match(check.json(), { connection: 'demo-password', classification: 'flow_retired' })
  const { sim } = demoAddresses(banner)
  const login = await fetch(`${sim}/services/oauth2/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', client_id: DEMO_APP.clientId, client_secret: DEMO_APP.clientSecret, username: DEMO_USER.username, password: DEMO_USER.password + DEMO_USER.securityToken }) })
  t.match({ status: login.status, body: await login.json() }, { status: 400, body: { error: 'invalid_grant' } }, 'the demo org refuses the flow too')

  const before = await startDemo({ PORT: '0', FLOW_SUNSET_OAUTH_PASSWORD_DATE: suggested })
  t.teardown(() => before.close())
  t.match(before.banner({ address: '127.0.0.1', port: 3000, family: 'IPv4' }), `demo-password logs in with the flow Salesforce retires on ${suggested} (health: warn)`)
})
