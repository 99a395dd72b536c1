import t from 'tap'
import { ACME, KEYS, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'

const ADMIN = '/v1/admin/connections'

async function setup (t: Parameters<typeof startSim>[0], latencyMs?: number) {
  const sim = await startSim(t, undefined, latencyMs)
  const store = await tempFileStore(t)
  const logs = captureLogs('debug')
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, logger: logs.logger, env: { LOG_LEVEL: 'debug', REVOKE_ON_ROTATION: 'true' } })
  const admin = (method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = {}) =>
    app.inject({ method, url, payload, headers: { ...bearer(principals.adminKey), ...headers } })
  const session = (name: string, payload?: object) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey), payload })
  return { sim, store, logs, principals, app, admin, session }
}

t.test('create, read, rotate, roll back and delete a connection; secrets never come back', async (t) => {
  const { sim, store, logs, admin, session } = await setup(t)
  // OAuth issues a new token per login (SOAP hands back the live session), so rotation is visible in the token
  const definition = acmeDefinition(sim, 'oauth_password')

  const created = await admin('PUT', `${ADMIN}/acme`, definition)
  t.equal(created.statusCode, 201)
  t.equal(created.headers.etag, '"1"')
  t.match(created.json(), { name: 'acme', flow: 'oauth_password', username: ACME.username, clientId: ACME.clientId, version: 1, circuit: { state: 'closed' } })
  t.same(created.json().secretsSet, ['password', 'securityToken', 'clientSecret'])
  t.equal(sim.stats('acme').attempts, 1, 'validated against Salesforce before writing')

  // the validation login is reused: the first caller needs no login of its own
  const s1 = await session('acme')
  t.equal(s1.statusCode, 200)
  t.equal(sim.stats('acme').attempts, 1)

  const list = await admin('GET', ADMIN)
  t.equal(list.statusCode, 200)
  t.equal(list.json().connections.length, 1)
  const one = await admin('GET', `${ADMIN}/acme`)
  t.equal(one.headers.etag, '"1"')

  // Salesforce admin resets the token: the stored one goes stale; rotate just the token
  const newToken = sim.resetSecurityToken('acme', ACME.username)
  const rotated = await admin('PATCH', `${ADMIN}/acme/credentials`, { securityToken: newToken }, { 'if-match': '"1"' })
  t.equal(rotated.statusCode, 200)
  t.equal(rotated.json().version, 2)
  const s2 = await session('acme')
  t.not(s2.json().accessToken, s1.json().accessToken, 'old cached session dropped')
  const oldWorks = await fetch(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s1.json().accessToken}` } })
  t.equal(oldWorks.status, 401, 'old session revoked at Salesforce (REVOKE_ON_ROTATION)')

  const versions = await admin('GET', `${ADMIN}/acme/versions`)
  t.same(versions.json().versions.map((v: { version: number, current: boolean }) => [v.version, v.current]), [[1, false], [2, true]])

  // rolling back to v1 brings back the old token, which Salesforce now refuses: rejected, nothing stored
  const rollback = await admin('POST', `${ADMIN}/acme/rollback`, { version: 1 })
  t.equal(rollback.statusCode, 422)
  t.equal(rollback.json().classification, 'invalid_credentials')
  t.equal((await store.read('acme'))?.version, 2)

  const del = await admin('DELETE', `${ADMIN}/acme`)
  t.equal(del.statusCode, 204)
  t.equal((await admin('GET', `${ADMIN}/acme`)).statusCode, 404)
  t.equal((await session('acme')).statusCode, 404)
  const afterDelete = await fetch(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s2.json().accessToken}` } })
  t.equal(afterDelete.status, 401, 'sessions revoked on delete')

  const audit = await admin('GET', '/v1/admin/audit?limit=50')
  t.equal(audit.statusCode, 200)
  const actions = audit.json().events.map((e: { action: string, outcome: string }) => `${e.action}:${e.outcome}`)
  t.same(actions, ['connection.delete:success', 'connection.rollback:rejected', 'credentials.rotate:success', 'connection.create:success'])
  t.ok(audit.json().events.every((e: { actor: string }) => e.actor === 'ops'))
  const filtered = await admin('GET', '/v1/admin/audit?connection=nope')
  t.same(filtered.json().events, [])

  const everything = [created.body, rotated.body, list.body, one.body, versions.body, audit.body, logs.text()].join('\n')
  for (const secret of [ACME.password, ACME.securityToken, ACME.clientSecret, newToken, s1.json().accessToken, s2.json().accessToken]) {
    t.notMatch(everything, secret, 'no secret in answers or logs')
  }
  t.match(logs.text(), /"audit":true/, 'audit events reach the log')
})

t.test('a candidate Salesforce rejects is never stored', async (t) => {
  const { sim, store, admin, logs } = await setup(t)
  const res = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password', { password: 'Wrong-Password-1' }))
  t.equal(res.statusCode, 422)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(res.json(), { type: 'urn:sf-broker:problem:credentials_rejected', classification: 'invalid_credentials', connection: 'acme' })
  t.ok(res.json().hint.length > 20)
  t.equal(await store.read('acme'), null)
  t.same(await store.versions('acme'), [])
  t.notMatch(res.body + logs.text(), 'Wrong-Password-1')
})

t.test('validate: candidate or stored, nothing written', async (t) => {
  const { sim, store, admin } = await setup(t)
  await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'jwt_bearer'))
  const stored = await admin('POST', `${ADMIN}/acme/validate`)
  t.match(stored.json(), { ok: true, classification: 'ok', source: 'stored' })
  const otherKey = (await import('../../packages/simulator/src/index.ts')).generateTestKeyPair()
  const candidate = await admin('POST', `${ADMIN}/acme/validate`, { privateKey: otherKey.privateKeyPem })
  t.match(candidate.json(), { ok: false, source: 'candidate' })
  t.ok(['invalid_assertion', 'invalid_client'].includes(candidate.json().classification), candidate.json().classification)
  t.equal((await store.read('acme'))?.version, 1)
  t.equal((await store.read('acme'))?.definition.privateKey, KEYS.privateKeyPem)
  t.equal((await admin('POST', `${ADMIN}/ghost/validate`)).statusCode, 404)

  // validating during a Salesforce outage reports it, but must not pause logins fleet-wide
  sim.setDown(true)
  const outage = await admin('POST', `${ADMIN}/acme/validate`)
  t.match(outage.json(), { ok: false, classification: 'unreachable', retryable: true, source: 'stored' })
  const audited = (await admin('GET', '/v1/admin/audit?connection=acme&limit=1')).json().events[0]
  t.match(audited, { action: 'connection.validate', outcome: 'error', classification: 'unreachable' }, 'an outage is audited as an error, not a rejected secret')
  sim.setDown(false)
  t.match((await admin('GET', `${ADMIN}/acme`)).json(), { circuit: { state: 'closed' } }, 'a transient failure leaves the circuit closed')
  // …while a credential failure of the stored secret does open it
  sim.org('acme').connectedApps.get(ACME.clientId)!.certificatePem = otherKey.certificatePem
  const refused = await admin('POST', `${ADMIN}/acme/validate`)
  t.equal(refused.json().ok, false)
  t.match((await admin('GET', `${ADMIN}/acme`)).json(), { circuit: { state: 'open', classification: refused.json().classification } })
})

t.test('a candidate Salesforce could not judge (outage, rate limit) is not "rejected": 503 with Retry-After, nothing stored', async (t) => {
  const { sim, store, admin } = await setup(t)
  t.equal((await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)

  sim.setDown(true)
  const rotation = await admin('PATCH', `${ADMIN}/acme/credentials`, { clientId: ACME.clientId })
  t.equal(rotation.statusCode, 503, 'Salesforce did not answer: the candidate was not judged')
  t.match(rotation.json(), { type: 'urn:sf-broker:problem:salesforce_unavailable', classification: 'unreachable', retryable: true })
  t.ok(Number(rotation.headers['retry-after']) >= 1, 'with Retry-After')
  t.notMatch(rotation.json().detail, /Nothing was stored|rejected/i, 'not told the candidate was rejected')
  const created = await admin('PUT', `${ADMIN}/other`, acmeDefinition(sim, 'jwt_bearer'))
  t.equal(created.statusCode, 503, 'a new connection likewise')
  sim.setDown(false)

  // Salesforce's login rate limit: the user's logins are held for the hour, and the answer says so
  sim.org('acme').loginRatePerHour = sim.stats('acme').attempts
  const limited = await admin('PATCH', `${ADMIN}/acme/credentials`, { clientId: ACME.clientId })
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { type: 'urn:sf-broker:problem:login_budget_exhausted', classification: 'login_rate_exceeded' })
  t.ok(Number(limited.headers['retry-after']) > 3500, 'held until the hour has passed')

  t.equal((await store.read('acme'))?.version, 1, 'nothing written')
  t.equal(await store.read('other'), null)
  const events = (await admin('GET', '/v1/admin/audit?limit=50')).json().events as Array<{ action: string, outcome: string, classification?: string }>
  const unjudged = events.filter(e => e.classification === 'unreachable' || e.classification === 'login_rate_exceeded').map(e => `${e.action}:${e.outcome}:${e.classification}`).sort()
  t.same(unjudged, ['connection.create:error:unreachable', 'credentials.rotate:error:login_rate_exceeded', 'credentials.rotate:error:unreachable'], 'audited as errors, not as rejected candidates')
})

t.test('a password rotation cut off by an outage counts as a failed login, and can be sent again once Salesforce answers', async (t) => {
  const { sim, store, admin } = await setup(t)
  t.equal((await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  const rotation = { password: ACME.password, securityToken: ACME.securityToken }

  // the connection drops after the request went out: Salesforce may have judged it, so the guard counts it
  sim.setDown(true)
  const cut = await admin('PATCH', `${ADMIN}/acme/credentials`, rotation)
  sim.setDown(false)
  t.equal(cut.statusCode, 503)
  t.match(cut.json(), { type: 'urn:sf-broker:problem:salesforce_unavailable', classification: 'unreachable', retryable: true })
  const health = async () => (await admin('GET', '/health/salesforce?connection=acme')).json().connections[0]
  t.equal((await health()).loginGuard.failures, 1, 'counted by the failure guard')

  // nobody knows Salesforce refused it: the same candidate is not held back as a refused one
  const again = await admin('PATCH', `${ADMIN}/acme/credentials`, rotation)
  t.equal(again.statusCode, 200, again.body)
  t.equal((await store.read('acme'))?.version, 2)
  t.equal((await health()).loginGuard.failures, 0, 'the success set the count back, as Salesforce does')
})

t.test('a candidate refused for a permission the admin then grants in Setup is accepted at once, not held back as refused credentials', async (t) => {
  const { sim, admin } = await setup(t)
  const org = sim.org('acme')
  org.soapLoginRequiresUseAnyApiAuth = true
  const refused = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'soap'))
  t.equal(refused.statusCode, 422)
  t.match(refused.json(), { classification: 'flow_not_enabled', hint: /Use Any API Auth/ })

  // the admin does what the hint says, and sends the same (right) credentials again
  org.users.get(ACME.username)!.permissions.PermissionsUseAnyApiAuth = true
  const again = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'soap'))
  t.equal(again.statusCode, 201, again.body)
  t.equal(org.users.get(ACME.username)!.failedLogins, 0)
})

t.test('concurrent rotations: one wins, the other gets 409', async (t) => {
  const { sim, admin } = await setup(t, 150)
  await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'client_credentials'))
  const [a, b] = await Promise.all([
    admin('PATCH', `${ADMIN}/acme/credentials`, { clientSecret: ACME.clientSecret }),
    admin('PATCH', `${ADMIN}/acme/credentials`, { clientSecret: ACME.clientSecret }),
  ])
  t.same([a.statusCode, b.statusCode].sort(), [200, 409])
  const loser = a.statusCode === 409 ? a : b
  t.equal(loser.json().type, 'urn:sf-broker:problem:conflict')
  t.equal(loser.json().currentVersion, 2)
  const stale = await admin('PATCH', `${ADMIN}/acme/credentials`, { clientSecret: ACME.clientSecret }, { 'if-match': '"1"' })
  t.equal(stale.statusCode, 409, 'If-Match of an old version')
})

t.test('a rollback with a stale If-Match gets 409 whatever its target, not a 400 about the target', async (t) => {
  // RFC 9110 §13.2.2: the precondition is evaluated before the method's own checks
  const { sim, admin } = await setup(t)
  await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'client_credentials'))
  t.equal((await admin('PATCH', `${ADMIN}/acme/credentials`, { clientSecret: ACME.clientSecret })).statusCode, 200)
  // two admins read version 2; the first rolls back to version 1, written as version 3
  t.equal((await admin('POST', `${ADMIN}/acme/rollback`, { version: 1 }, { 'if-match': '"2"' })).statusCode, 200)
  // the second, still on version 2, names the version it now sees listed
  const second = await admin('POST', `${ADMIN}/acme/rollback`, { version: 3 }, { 'if-match': '"2"' })
  t.equal(second.statusCode, 409, second.body)
  t.equal(second.json().currentVersion, 3, 'the answer names the version to read')
})

t.test('input checks: flow requirements, login URL safety, admin-only, strict names', async (t) => {
  const { sim, admin, app, principals } = await setup(t)
  const missing = await admin('PUT', `${ADMIN}/acme`, { ...acmeDefinition(sim, 'jwt_bearer'), privateKey: undefined })
  t.equal(missing.statusCode, 400)
  t.match(missing.json().errors, [{ path: 'body/privateKey' }])
  for (const loginUrl of ['https://login.salesforce.com.evil.example', 'http://login.salesforce.com', 'https://evil.example']) {
    const res = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'soap', { loginUrl }))
    t.equal(res.statusCode, 400, loginUrl)
  }
  t.equal(sim.stats().attempts, 0, 'no credential was sent anywhere')
  const asService = await app.inject({ method: 'GET', url: ADMIN, headers: bearer(principals.billingKey) })
  t.equal(asService.statusCode, 403)
  t.equal((await app.inject({ method: 'GET', url: ADMIN })).statusCode, 401)
  for (const name of ['..%2F..%2Fsys', '%2e%2e', 'UPPER', 'a'.repeat(64), 'x%00y']) {
    const res = await admin('GET', `${ADMIN}/${name}`)
    t.ok([400, 404].includes(res.statusCode), `${name} → ${res.statusCode}`)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  }
})

t.test('validating a candidate that changes only non-secret settings leaves the sessions callers get as the stored connection says', async (t) => {
  const { sim, store, admin, session } = await setup(t)
  t.equal((await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'oauth_password', { sessionTimeoutSeconds: 300 }))).statusCode, 201)
  // the same secret and destination: the stored secret's login, with settings nobody stored
  const checked = await admin('POST', `${ADMIN}/acme/validate`, { apiVersion: '50.0', sessionTimeoutSeconds: 86400 })
  t.match(checked.json(), { ok: true, source: 'candidate' })
  t.equal((await store.read('acme'))?.definition.apiVersion, '62.0', 'nothing written')

  const res = await session('acme')
  t.equal(res.statusCode, 200)
  t.equal(res.json().apiVersion, '62.0', 'the stored API version, not the candidate\'s')
  const lifetimeMs = Date.parse(res.json().expiresAt) - Date.parse(res.json().issuedAt)
  t.ok(lifetimeMs <= 300_000, `expires within the stored session timeout (${lifetimeMs} ms)`)
})

t.test('validating a candidate for a new connection that lacks a setting every login needs: 400 naming it, no failed login counted', async (t) => {
  const { sim, admin } = await setup(t)
  const { apiVersion: _apiVersion, flow: _flow, ...partial } = acmeDefinition(sim, 'soap')
  // twice: two failed logins would be enough for the guard to hold the user back
  const candidates: Array<[object, string]> = [[{ ...partial, flow: 'soap' }, 'body/apiVersion'], [{ ...partial, flow: 'soap' }, 'body/apiVersion'], [{ ...partial, apiVersion: '62.0' }, 'body/flow']]
  for (const [candidate, path] of candidates) {
    const res = await admin('POST', `${ADMIN}/newone/validate`, candidate)
    t.equal(res.statusCode, 400, res.body)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.json(), { type: 'urn:sf-broker:problem:bad_request', errors: [{ path }] })
  }
  t.equal(sim.stats().attempts, 0, 'nothing was sent')
  // the user was not held back for logins that never reached Salesforce
  const created = await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'soap'))
  t.equal(created.statusCode, 201, created.body)
})

// SOAP login() hands every client of the same user the same session while it is valid (SOAP API
// Developer Guide, "Choosing a User for an Integration"): a validation's login can be the session
// callers hold, and a validation stores nothing, so it must not end that session.
t.test('validating a SOAP candidate with a new security token leaves the session callers hold alive', async (t) => {
  const { sim, admin, session } = await setup(t)
  t.equal((await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'soap'))).statusCode, 201)
  const held = (await session('acme')).json() as { accessToken: string, instanceUrl: string }

  // the admin reset the token in Setup and checks the new one before rotating
  const newToken = sim.resetSecurityToken('acme', ACME.username)
  const checked = await admin('POST', `${ADMIN}/acme/validate`, { securityToken: newToken })
  t.match(checked.json(), { ok: true, source: 'candidate' })

  const res = await fetch(`${held.instanceUrl}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${held.accessToken}` } })
  t.equal(res.status, 200, 'the session callers hold still works at Salesforce')
  t.equal((await session('acme')).json().accessToken, held.accessToken, 'and is still the one handed out')
})
