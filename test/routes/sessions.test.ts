import t from 'tap'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

const url = (name: string) => `/v1/connections/${name}/session`

t.test('a granted caller gets a session; the second call is served from cache', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const { app, principals } = await buildTestApp(t, { secretStore: store })

  const before = Date.now()
  const res = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey) })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.equal(body.tokenType, 'Bearer')
  t.equal(body.connection, 'acme')
  t.equal(body.instanceUrl, sim.myDomainUrl('acme'))
  t.equal(body.apiVersion, '62.0')
  t.equal(body.flow, 'client_credentials')
  t.match(body.orgId, /^00D/)
  t.match(body.userId, /^005/)
  const expires = Date.parse(body.expiresAt)
  t.ok(expires <= Date.now() + 900_000, 'never more than the max TTL ahead')
  t.ok(expires > before + 800_000, 'close to the max TTL for a fresh 2 h session')

  const again = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey), payload: {} })
  t.equal(again.statusCode, 200)
  t.equal(again.json().accessToken, body.accessToken)
  t.equal(sim.stats('acme').attempts, 1, 'one login for two requests')

  // the token really works at Salesforce
  const limits = await fetch(`${body.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${body.accessToken}` } })
  t.equal(limits.status, 200)
})

t.test('every flow yields a working session through the broker', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const flows = ['soap', 'oauth_password', 'jwt_bearer', 'client_credentials'] as const
  for (const flow of flows) await store.write(`acme-${flow.replace('_', '-')}`, acmeDefinition(sim, flow), 0)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  for (const flow of flows) {
    const res = await app.inject({ method: 'POST', url: url(`acme-${flow.replace('_', '-')}`), headers: bearer(principals.billingKey) })
    t.equal(res.statusCode, 200, flow)
    t.equal(res.json().flow, flow)
    const userinfo = await fetch(`${res.json().instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${res.json().accessToken}` } })
    t.equal(userinfo.status, 200, `${flow} token accepted by Salesforce`)
  }
})

t.test('authentication and authorisation', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const { app, principals } = await buildTestApp(t, { secretStore: store })

  const none = await app.inject({ method: 'POST', url: url('acme') })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(none.headers['www-authenticate'], 'Bearer realm="sf-broker"')
  t.equal(none.json().type, 'urn:sf-broker:problem:unauthenticated')

  const forged = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey.slice(0, -2) + 'xx') })
  t.equal(forged.statusCode, 401)
  const basic = await app.inject({ method: 'POST', url: url('acme'), headers: { authorization: 'Basic Zm9vOmJhcg==' } })
  t.equal(basic.statusCode, 401)

  const noGrant = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.reportingKey) })
  const noGrantMissing = await app.inject({ method: 'POST', url: url('does-not-exist'), headers: bearer(principals.reportingKey) })
  t.equal(noGrant.statusCode, 403)
  t.same(noGrant.json(), noGrantMissing.json(), 'same answer whether or not the connection exists')

  const adminOnSession = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.adminKey) })
  t.equal(adminOnSession.statusCode, 403, 'an admin key is not a session key')

  const missing = await app.inject({ method: 'POST', url: url('ghost'), headers: bearer(testPrincipals().billingKey) })
  t.equal(missing.statusCode, 401, 'a key from another principals document is unknown here')
  t.equal(sim.stats().attempts, 0, 'nothing reached Salesforce')
})

t.test('a granted caller asking for a connection that does not exist gets 404', async (t) => {
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { principals })
  const res = await app.inject({ method: 'POST', url: url('ghost'), headers: bearer(principals.billingKey) })
  t.equal(res.statusCode, 404)
  t.equal(res.json().type, 'urn:sf-broker:problem:not_found')
})

t.test('per-caller rate limit answers 429 with Retry-After', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const principals = testPrincipals(['acme'], 3)
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const codes: number[] = []
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey) })).statusCode)
  t.same(codes, [200, 200, 200, 429])
  const limited = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey) })
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.equal(limited.json().type, 'urn:sf-broker:problem:rate_limited')
  // another caller has its own budget
  const other = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.reportingKey) })
  t.equal(other.statusCode, 403)
})

t.test('rejectedToken: only the cached token triggers a login; N reports cause one', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const { app, principals } = await buildTestApp(t, { secretStore: store })
  const get = (payload?: object) => app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey), payload })

  const first = (await get()).json().accessToken
  sim.expireSessions('acme')
  const reports = await Promise.all(Array.from({ length: 50 }, () => get({ rejectedToken: first })))
  const tokens = new Set(reports.map(r => r.json().accessToken))
  t.equal(tokens.size, 1, 'every reporter gets the same new session')
  t.not([...tokens][0], first)
  t.equal(sim.stats('acme').attempts, 2, 'fifty reports of one dead token: one login')

  const stale = await get({ rejectedToken: first })
  t.equal(stale.json().accessToken, [...tokens][0], 'reporting an older token returns the newer cached one')
  t.equal(sim.stats('acme').attempts, 2, 'without logging in')

  const bad = await get({ rejectedToken: 123 })
  t.equal(bad.statusCode, 400, 'wrong type is refused, not coerced')
  const extra = await get({ rejectedToken: 'x', password: 'y' })
  t.equal(extra.statusCode, 400)
})

t.test('the session lifetime honours the org timeout, the safety margin and the max TTL', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('short', acmeDefinition(sim, 'client_credentials', { sessionTimeoutSeconds: 60 }), 0)
  const { app, principals } = await buildTestApp(t, {
    secretStore: store,
    principals: testPrincipals(['short']),
    env: { SESSION_SAFETY_MARGIN_SECONDS: '20', SESSION_MAX_TTL_SECONDS: '30' },
  })
  const res = await app.inject({ method: 'POST', url: url('short'), headers: bearer(principals.billingKey) })
  const body = res.json()
  const issued = Date.parse(body.issuedAt)
  const expires = Date.parse(body.expiresAt)
  t.ok(expires <= issued + 40_000, 'never past the real end (60 s) minus the margin (20 s)')
  t.ok(expires <= Date.now() + 30_000, 'never more than the max TTL ahead')
  t.ok(expires >= Date.now() + 25_000)
})

t.test('no secret reaches an answer', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password', { password: 'wrong-password-xyz' }), 0)
  const { app, principals } = await buildTestApp(t, { secretStore: store })
  const res = await app.inject({ method: 'POST', url: url('acme'), headers: bearer(principals.billingKey) })
  t.equal(res.statusCode, 503)
  for (const secret of ['wrong-password-xyz', ACME.securityToken, ACME.clientSecret]) t.notMatch(res.body, secret)
  t.notMatch(res.body, /at .*\.ts:\d+/, 'no stack trace')
})
