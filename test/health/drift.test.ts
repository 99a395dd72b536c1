import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'
import type { SecretStore } from '../../src/secrets/store.ts'

/** A broker with one connection "acme" on the simulator, as an admin drives it over HTTP. */
async function broker (t: Teardown, sim: Simulator, definition: ConnectionDefinition, store?: SecretStore) {
  const { app, principals } = await buildTestApp(t, store ? { secretStore: store } : {})
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  const put = await admin('PUT', '/v1/admin/connections/acme', definition)
  if (put.statusCode !== 201) throw new Error(put.body)
  return { admin, session, app, principals }
}

async function control (sim: Simulator, method: 'PATCH' | 'POST', path: string, body: object = {}): Promise<void> {
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`control ${path}: ${res.status} ${await res.text()}`)
}

async function check (admin: Awaited<ReturnType<typeof broker>>['admin']) {
  const res = await admin('POST', '/health/salesforce/acme/check')
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json()
}

t.test('an app not installed in the org (uninstalled-app restriction): app_not_installed, install it', async t => {
  const sim = await startSim(t)
  const { admin, session } = await broker(t, sim, acmeDefinition(sim))
  await control(sim, 'PATCH', `/apps/${ACME.clientId}`, { installed: false })
  sim.expireSessions('acme')
  const health = await check(admin)
  t.equal(health.status, 'failing')
  t.equal(health.classification, 'app_not_installed')
  t.match(health.message, /app must be installed into org/)
  t.match(health.hint, /Connected Apps OAuth Usage > \[app\] > Install/)
  t.match(health.hint, /sandbox refresh/)
  const connection = (await admin('GET', '/v1/admin/connections/acme')).json()
  t.equal(connection.circuit.classification, 'app_not_installed', 'the paused logins name the class too')
  t.equal((await session()).statusCode, 200, 'the cached session still serves meanwhile')
})

t.test('API Access Control: the login succeeds, the session is refused for API use: api_access_blocked', async t => {
  const sim = await startSim(t)
  const { admin } = await broker(t, sim, acmeDefinition(sim))
  await control(sim, 'PATCH', '', { apiAccessControl: true })
  const before = sim.stats('acme')
  const health = await check(admin)
  t.equal(sim.stats('acme').successes - before.successes, 1, 'the login succeeded')
  t.equal(health.status, 'failing')
  t.equal(health.classification, 'api_access_blocked')
  t.match(health.hint, /API Access Control/)
  t.match(health.hint, /Use Any API Client/)
})

t.test('a JWT aud that is not the host: audience_mismatch; the default aud on a My Domain login URL is the My Domain, for every app', async t => {
  const sim = await startSim(t, [acmeOrg({ jwtAudienceIsHost: true })])
  const { app, principals } = await buildTestApp(t)
  const admin = (method: 'PUT' | 'POST', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const myDomain = sim.myDomainUrl('acme')
  // the old default, stored explicitly: posted to My Domain, an External Client App refuses it
  const refused = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer', { loginUrl: myDomain, jwtAudience: 'https://login.salesforce.com' }))
  t.equal(refused.statusCode, 422)
  t.equal(refused.json().classification, 'audience_mismatch')
  t.match(refused.json().hint, /store the org's My Domain .* as loginUrl and leave jwtAudience unset/)
  t.match(refused.json().hint, /remove it/)
  const before = sim.stats('acme')
  const fixed = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer', { loginUrl: myDomain }))
  t.equal(fixed.statusCode, 201, fixed.body)
  t.notOk(fixed.json().jwtAudience, 'nothing to store: the default aud is the host the assertion is posted to')
  t.same(sim.stats('acme').successes - before.successes, 1, 'one login, accepted with aud = the My Domain (the only audience this org takes there)')
  // a connected app (aud not bound to the host) accepts the My Domain audience too
  sim.org('acme').jwtAudienceIsHost = false
  t.equal((await admin('POST', '/health/salesforce/acme/check')).json().status, 'ok')
})

t.test('a sandbox refresh: health says the org id changed and what to redo; writing the connection again clears it', async t => {
  const sim = await startSim(t)
  const { admin, session, app, principals } = await broker(t, sim, acmeDefinition(sim))
  t.equal((await check(admin)).status, 'ok')
  const before = sim.org('acme').orgId
  const old = (await session()).json().accessToken
  await control(sim, 'POST', '/refresh')
  // the caller's next API call is refused (the old org's session is gone): it reports the token, the broker logs in again
  const renewed = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', payload: { rejectedToken: old }, headers: bearer(principals.billingKey) })
  t.equal(renewed.statusCode, 200, 'the credentials still work in the refreshed org')
  t.not(renewed.json().accessToken, old)
  const health = (await admin('GET', '/health/salesforce')).json().connections[0]
  t.equal(health.status, 'warn')
  t.match(health.drift, [{ kind: 'org_changed' }])
  t.match(health.message, new RegExp(`${before}.*${sim.org('acme').orgId}`))
  t.match(health.hint, /install or recreate the External Client App/)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 200)
  const after = (await admin('GET', '/health/salesforce')).json().connections[0]
  t.notOk(after.drift, 'cleared by the new version')
})

t.test('stored hosts: a generic login host with JWT and an instance host are warned about', async t => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const { admin } = await broker(t, sim, acmeDefinition(sim), store)
  // stored as an operator might have with `vault kv put` (no validating login to a real host here)
  await store.write('generic', acmeDefinition(sim, 'jwt_bearer', { loginUrl: 'https://login.salesforce.com' }), 0)
  await store.write('instanced', acmeDefinition(sim, 'client_credentials', { loginUrl: 'https://acme.cs42.my.salesforce.com' }), 0)
  const rows = (await admin('GET', '/health/salesforce')).json().connections as Array<{ connection: string, drift?: Array<{ kind: string, hint: string }> }>
  const generic = rows.find(r => r.connection === 'generic')!
  t.match(generic.drift, [{ kind: 'generic_login_host', hint: /My Domain.*jwtAudience/ }])
  const instanced = rows.find(r => r.connection === 'instanced')!
  t.match(instanced.drift, [{ kind: 'instanced_host', hint: /Summer '26/ }])
  t.notOk(rows.find(r => r.connection === 'acme')!.drift, 'a My Domain connection has none')
})

t.test('a connection deleted and created again under its name starts afresh: the deleted one\'s org is no drift of the new one', async t => {
  const sim = await startSim(t)
  const { admin, session, app, principals } = await broker(t, sim, acmeDefinition(sim))
  t.equal((await check(admin)).status, 'ok')
  t.equal((await session()).statusCode, 200)
  t.equal((await admin('GET', '/health/salesforce')).json().connections[0].status, 'ok', 'the org behind version 1 is recorded')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/connections/acme', headers: bearer(principals.adminKey) })).statusCode, 204)
  // another org now answers these credentials (as a new connection of the same name might point elsewhere)
  await control(sim, 'POST', '/refresh')
  const created = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))
  t.equal(created.statusCode, 201, 'created anew: version 1 again')
  t.equal((await session()).statusCode, 200)
  const health = (await admin('GET', '/health/salesforce')).json().connections[0]
  t.notOk(health.drift, 'a new connection has no history to drift from')
  t.equal(health.status, 'ok')
})

t.test('API Access Control: a caller\'s login that works does not make the connection ok again (the session still may not call the API)', async t => {
  const sim = await startSim(t)
  const { app, principals } = await buildTestApp(t)
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  await control(sim, 'PATCH', '', { apiAccessControl: true })
  t.equal((await check(admin)).classification, 'api_access_blocked')
  // the cached session goes (the kill switch here; its end or a purge alike): a caller's request logs in again, and that login succeeds
  t.equal((await admin('POST', '/v1/admin/connections/acme/sessions/revoke')).statusCode, 200)
  const before = sim.stats('acme').successes
  const served = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(served.statusCode, 200)
  t.equal(sim.stats('acme').successes - before, 1, 'the caller\'s login succeeded')
  const health = (await admin('GET', '/health/salesforce')).json().connections[0]
  t.equal(health.status, 'failing', 'still failing: the login never was the problem')
  t.equal(health.classification, 'api_access_blocked')
})
