import t, { type Test } from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { buildHealthApp, eventually, sharedRedis } from './health-helper.ts'

/**
 * The announced ends of the username-password flows show in health (admin view), turn a
 * connection `warn` inside the window, are exported as a metric, and are named when such a
 * connection is created (refused after the date unless the admin accepts it explicitly).
 * The clock is injected: these tests happen at chosen dates, not today.
 */

const at = (iso: string) => () => Date.parse(iso)
const FAR = at('2026-01-10T12:00:00Z') // 406 days before 2027-02-20
const NEAR = at('2027-01-01T12:00:00Z') // 50 days before
const AFTER = at('2027-06-01T00:00:00Z') // after both announced ends

async function appAt (t: Test, now: () => number, env: Record<string, string> = {}) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('pw', acmeDefinition(sim, 'oauth_password'), 0)
  await store.write('cc', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals(['pw', 'cc', 'new-pw', 'new-soap'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env, overrides: { now } })
  const admin = bearer(principals.adminKey)
  for (const name of ['pw', 'cc']) {
    t.equal((await app.inject({ method: 'POST', url: `/health/salesforce/${name}/check`, headers: admin })).statusCode, 200, `${name} checked`)
  }
  return { app, admin, sim }
}

t.test('a password-flow connection carries its sunset in the admin view, and is ok far from it', async (t) => {
  const { app, admin } = await appAt(t, FAR)
  const res = await app.inject({ url: '/health/salesforce', headers: admin })
  t.equal(res.statusCode, 200)
  const body = res.json()
  const pw = body.connections.find((c: { connection: string }) => c.connection === 'pw')
  const cc = body.connections.find((c: { connection: string }) => c.connection === 'cc')
  t.match(pw.flowSunset, { flow: 'oauth_password', date: '2027-02-20', daysLeft: 406, moveTo: ['jwt_bearer', 'client_credentials'], why: /username-password/ })
  t.equal(pw.status, 'ok', 'outside the window: ok')
  t.equal(cc.flowSunset, undefined, 'client credentials has no announced end')
  t.equal(body.status, 'ok')

  const pub = await app.inject({ url: '/health/salesforce' })
  t.notOk(pub.body.includes('flowSunset'), 'the public summary has no sunset detail')
})

t.test('inside the warning window the connection and the overall status are warn, still 200, readiness unaffected', async (t) => {
  const { app, admin } = await appAt(t, NEAR)
  const res = await app.inject({ url: '/health/salesforce', headers: admin })
  t.equal(res.statusCode, 200, 'warn does not fail the health answer')
  const body = res.json()
  const pw = body.connections.find((c: { connection: string }) => c.connection === 'pw')
  t.equal(pw.status, 'warn')
  t.equal(pw.flowSunset.daysLeft, 50)
  t.equal(body.connections.find((c: { connection: string }) => c.connection === 'cc').status, 'ok')
  t.equal(body.status, 'warn', 'the overall status says so')
  t.equal((await app.inject({ url: '/health/salesforce' })).json().status, 'warn', 'the public summary too')
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200, 'readiness is not failed')
})

t.test('the window and the dates are configuration', async (t) => {
  const { app, admin } = await appAt(t, FAR, { FLOW_SUNSET_WARN_DAYS: '500', FLOW_SUNSET_OAUTH_PASSWORD_DATE: '2026-03-01' })
  const pw = (await app.inject({ url: '/health/salesforce?connection=pw', headers: admin })).json().connections[0]
  t.equal(pw.status, 'warn')
  t.match(pw.flowSunset, { date: '2026-03-01', daysLeft: 50 })
})

t.test('the sunset is exported as a metric per connection and flow', async (t) => {
  const { app, admin } = await appAt(t, FAR)
  await app.inject({ url: '/health/salesforce', headers: admin })
  const text = (await app.inject({ url: '/metrics' })).body
  t.match(text, /# TYPE sfb_connection_flow_sunset_timestamp_seconds gauge/)
  t.match(text, new RegExp(`sfb_connection_flow_sunset_timestamp_seconds\\{connection="pw",flow="oauth_password"\\} ${Date.parse('2027-02-20T00:00:00Z') / 1000}`))
  t.notMatch(text, /sfb_connection_flow_sunset_timestamp_seconds\{connection="cc"/, 'no series for a surviving flow')
})

t.test('creating a soap or oauth_password connection answers 201 with a warning naming the date', async (t) => {
  const { app, admin, sim } = await appAt(t, FAR)
  const res = await app.inject({ method: 'PUT', url: '/v1/admin/connections/new-pw', headers: admin, payload: acmeDefinition(sim, 'oauth_password') })
  t.equal(res.statusCode, 201)
  t.match(res.json().warnings, [{ type: 'flow_sunset', flow: 'oauth_password', date: '2027-02-20', message: /2027-02-20.*jwt_bearer/ }])
  const cc = await app.inject({ method: 'PUT', url: '/v1/admin/connections/new-soap', headers: admin, payload: acmeDefinition(sim, 'client_credentials') })
  t.equal(cc.statusCode, 201)
  t.equal(cc.json().warnings, undefined, 'a surviving flow gets no warning')
})

t.test('after the date a new password-flow connection is refused unless accepted explicitly', async (t) => {
  const { app, admin, sim } = await appAt(t, AFTER)
  const refused = await app.inject({ method: 'PUT', url: '/v1/admin/connections/new-soap', headers: admin, payload: acmeDefinition(sim, 'soap') })
  t.equal(refused.statusCode, 503)
  t.match(refused.headers['content-type'], /application\/problem\+json/)
  t.match(refused.json(), { type: 'urn:sf-broker:problem:flow_retired', code: 'flow_retired', detail: /soap.*2027-05-14/, hint: /acceptRetiredFlow/ })
  t.equal((await app.inject({ url: '/v1/admin/connections/new-soap', headers: admin })).statusCode, 404, 'nothing stored')

  const forced = await app.inject({ method: 'PUT', url: '/v1/admin/connections/new-soap?acceptRetiredFlow=true', headers: admin, payload: acmeDefinition(sim, 'soap') })
  t.equal(forced.statusCode, 201, 'the simulator org still allows SOAP login: created on explicit request')
  t.match(forced.json().warnings, [{ type: 'flow_sunset', flow: 'soap', date: '2027-05-14', message: /retired/ }])
})

t.test('a sunset date that is not a calendar date stops the broker at start (exit 78)', async (t) => {
  const { loadConfig, ConfigError } = await import('../../src/config.ts')
  const base = { SECRET_STORE: 'file', FILE_STORE_KEY: Buffer.alloc(32).toString('base64'), PRINCIPALS_JSON: '{"principals":[]}', SHARED_STATE: 'memory' }
  for (const [variable, value] of [['FLOW_SUNSET_OAUTH_PASSWORD_DATE', '2027-02-30'], ['FLOW_SUNSET_SOAP_DATE', 'Summer 27'], ['FLOW_SUNSET_SOAP_DATE', '2027-6-1']]) {
    t.throws(() => loadConfig({ ...base, [variable]: value }), new ConfigError(`invalid ${variable}: must be a calendar date as YYYY-MM-DD (e.g. 2027-02-20); unset it to use the date Salesforce announced`), `${variable}=${value}`)
  }
  t.throws(() => loadConfig({ ...base, FLOW_SUNSET_WARN_DAYS: '-1' }), /invalid FLOW_SUNSET_WARN_DAYS/)
  t.equal(loadConfig({ ...base, FLOW_SUNSET_SOAP_DATE: '2027-06-12' }).FLOW_SUNSET_SOAP_DATE, '2027-06-12')
})

t.test('the scheduler keeps the metric in step: set by a validation, gone when the connection leaves the flow', async (t) => {
  const freshRedis = sharedRedis(t)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('pw', acmeDefinition(sim, 'oauth_password'), 0)
  const { url, principals } = await buildHealthApp(t, { secretStore: store, redisUrl: (await freshRedis()).url, principals: testPrincipals(['pw']) })
  const scrape = async () => (await fetch(`${url}/metrics`)).text()
  const series = /sfb_connection_flow_sunset_timestamp_seconds\{connection="pw",flow="oauth_password"\} 1803081600/
  t.match(await eventually(scrape, text => series.test(text)), series, 'exported after the scheduler validated it, nobody read health')

  const moved = await fetch(`${url}/v1/admin/connections/pw`, {
    method: 'PUT',
    headers: { ...bearer(principals.adminKey), 'content-type': 'application/json' },
    body: JSON.stringify(acmeDefinition(sim, 'jwt_bearer')),
  })
  t.equal(moved.status, 200, 'migrated to jwt_bearer')
  t.equal((await moved.json() as { warnings?: unknown }).warnings, undefined)
  const after = await eventually(scrape, text => !text.includes('sfb_connection_flow_sunset_timestamp_seconds{connection="pw"'))
  t.notMatch(after, /sfb_connection_flow_sunset_timestamp_seconds\{connection="pw"/, 'no series once the connection is on a surviving flow')
})
