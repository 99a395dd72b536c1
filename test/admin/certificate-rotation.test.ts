import t from 'tap'
import { randomBytes, X509Certificate } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'
import { FileSecretStore } from '../../src/secrets/file-store.ts'

const ROTATION = '/v1/admin/connections/acme/certificate-rotation'

/** Two replicas sharing Redis and one file store, serving a JWT bearer connection. */
async function twoReplicas (t: Teardown & { equal: (a: unknown, b: unknown) => boolean }, sim: Simulator) {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const apps: FastifyInstance[] = []
  // the test ends Salesforce's sessions twice within seconds (before and after the upload): no relogin floor between
  const env = { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }
  for (let i = 0; i < 2; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })).app)
  const admin = (i: number, method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, payload?: object) =>
    apps[i].inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (i: number, rejectedToken?: string) => apps[i % 2].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), ...(rejectedToken ? { payload: { rejectedToken } } : {}) })
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  return { apps, admin, session }
}

/**
 * Services as the SDK behaves: ask for a session, use it at Salesforce, and report it dead when
 * Salesforce answers 401 — every session answer kept.
 */
function services (session: (i: number, rejectedToken?: string) => Promise<{ statusCode: number, json: () => { accessToken: string, instanceUrl: string } }>) {
  const statuses: number[] = []
  const run = { on: true }
  const workers = Array.from({ length: 4 }, async (_, w) => {
    let dead: string | undefined
    for (let i = w; run.on; i += 4) {
      const answer = await session(i, dead)
      statuses.push(answer.statusCode)
      dead = undefined
      if (answer.statusCode !== 200) continue
      const { accessToken, instanceUrl } = answer.json()
      const used = await fetch(`${instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${accessToken}` } })
      await used.arrayBuffer()
      if (used.status === 401) dead = accessToken
    }
  })
  return {
    statuses,
    async stop () {
      run.on = false
      await Promise.all(workers)
      return statuses
    },
  }
}

/** What an admin does in Salesforce Setup, through the simulator's control API. */
async function setup (sim: Simulator, method: 'PUT' | 'POST', path: string, body?: object) {
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme${path}`, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  if (!res.ok) throw new Error(`simulator control API ${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<Record<string, unknown>>
}

/** Polls an admin read until it holds (the switch is made by a service's login, not by the test). */
async function until (check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

t.test('certificate rotation under load on 2 replicas: the upload is followed by the switch, made by the first refused login, with no failed request', async (t) => {
  const sim = await startSim(t)
  const { admin, session } = await twoReplicas(t, sim)
  t.equal((await session(0)).statusCode, 200)
  const traffic = services(session)

  const started = await admin(0, 'POST', ROTATION)
  t.equal(started.statusCode, 201, started.body)
  const view = started.json()
  t.equal(view.rotation, true)
  t.equal(view.to.clientId, ACME.clientId, 'same app')
  t.equal(view.to.username, ACME.username, 'same user')
  t.same(view.to.secretsSet, ['privateKey'])
  t.notMatch(started.body, /PRIVATE KEY/)
  t.match(view.checklist.join('\n'), /Use digital signatures/)
  const pem = await admin(1, 'GET', `${ROTATION}/certificate`)
  t.equal(pem.body, view.certificate.pem, 'the other replica hands out the same certificate')
  t.equal((await admin(1, 'POST', ROTATION)).statusCode, 409, 'one rotation at a time')

  // before the upload the current key still logs in: sessions that die are replaced with it, no extra login
  const beforeUpload = sim.stats('acme')
  await setup(sim, 'POST', '/sessions/expire')
  await until(async () => sim.stats('acme').attempts > beforeUpload.attempts, 'a login with the current key')
  t.equal(sim.stats('acme').failures, beforeUpload.failures, 'no refused login before the upload')
  t.equal((await admin(0, 'GET', ROTATION)).statusCode, 200, 'still pending')

  // the admin replaces the app's one certificate: from now on only the new key logs in
  const app = await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: view.certificate.pem })
  t.equal((app.certificate as { fingerprint256: string }).fingerprint256, view.certificate.fingerprint256, 'the app holds the new certificate only')
  const atUpload = sim.stats('acme')
  await setup(sim, 'POST', '/sessions/expire')
  await until(async () => (await admin(1, 'GET', ROTATION)).statusCode === 404, 'the rotation to complete by itself')
  const afterSwitch = await Promise.all(Array.from({ length: 40 }, (_, i) => session(i)))
  const statuses = await traffic.stop()

  t.ok(statuses.length > 20, `load ran throughout (${statuses.length} session requests)`)
  t.same([...new Set([...statuses, ...afterSwitch.map(a => a.statusCode)])], [200], 'zero failed session requests between the upload and the switch')
  const logins = sim.stats('acme')
  t.equal(logins.attempts - atUpload.attempts, 2, 'two logins fleet-wide: the current key refused, the new key accepted')
  t.equal(logins.failures - atUpload.failures, 1, 'one refused')
  t.equal(new Set(afterSwitch.map(a => a.json().accessToken)).size, 1, 'both replicas serve the one new session')

  const meta = (await admin(0, 'GET', '/v1/admin/connections/acme')).json()
  t.equal(meta.version, 2, 'switched once, check-and-set')
  t.equal(meta.flow, 'jwt_bearer')
  const health = (await admin(1, 'GET', '/health/salesforce')).json().connections[0]
  t.equal(health.certificate.fingerprint256, new X509Certificate(view.certificate.pem).fingerprint256, 'health shows the new certificate')
  const audit = (await admin(0, 'GET', '/v1/admin/audit?connection=acme')).json().events as Array<{ action: string, outcome: string, actor: string, classification?: string }>
  t.ok(audit.some(e => e.action === 'migration.complete' && e.outcome === 'success' && e.actor === 'sf-broker' && e.classification === 'pending_key_logged_in'), 'the switch is audited as made by the broker')
  t.equal((await admin(0, 'POST', `${ROTATION}/complete`)).statusCode, 404, 'nothing left to complete')
})

t.test('certificate rotation by hand: validate refuses until the upload, complete switches, then one login fleet-wide', async (t) => {
  const sim = await startSim(t)
  const { admin, session } = await twoReplicas(t, sim)
  t.equal((await session(1)).statusCode, 200)
  const traffic = services(session)
  const view = (await admin(0, 'POST', ROTATION)).json()
  const early = (await admin(1, 'POST', `${ROTATION}/validate`)).json()
  t.equal(early.classification, 'invalid_assertion', 'the app still holds the old certificate')
  t.match(early.nextStep, /Upload the certificate/)
  t.equal((await admin(0, 'POST', `${ROTATION}/complete`)).statusCode, 409, 'no switch before a successful validation')

  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: view.certificate.pem })
  t.equal((await admin(0, 'POST', `${ROTATION}/validate`)).json().classification, 'ok')
  const before = sim.stats('acme').attempts
  const done = await admin(1, 'POST', `${ROTATION}/complete`)
  t.equal(done.statusCode, 200, done.body)
  t.equal(done.json().previousVersion, 1)
  const after = await Promise.all(Array.from({ length: 40 }, (_, i) => session(i)))
  const statuses = await traffic.stop()
  t.same([...new Set([...statuses, ...after.map(a => a.statusCode)])], [200], 'zero failed session requests')
  t.equal(sim.stats('acme').attempts - before, 1, 'one login with the new key after the switch, fleet-wide')
})

t.test('a rotation is for jwt_bearer connections; the migration of another flow is not one', async (t) => {
  const sim = await startSim(t)
  const { admin } = await twoReplicas(t, sim)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 200)
  const refused = await admin(0, 'POST', ROTATION)
  t.equal(refused.statusCode, 409)
  t.match(refused.json().detail, /not jwt_bearer/)
  t.equal((await admin(0, 'GET', ROTATION)).statusCode, 404)
})

t.test('key age and expiry in health and metrics; CERT_ROTATION_START_DAYS starts the next rotation at the check that finds the certificate close to its end', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { principals, env: { JWT_CERT_VALIDITY_DAYS: '10', CERT_ROTATION_START_DAYS: '14', CERT_EXPIRY_WARN_DAYS: '7' } })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)

  // a first rotation gives the connection a certificate the broker made (10 days: the policy's 14 are already reached)
  const first = (await admin('POST', ROTATION)).json()
  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: first.certificate.pem })
  await setup(sim, 'POST', '/sessions/expire')
  const rejected = (await session()).json().accessToken
  const served = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload: { rejectedToken: rejected } })
  t.equal(served.statusCode, 200, 'the refused key was replaced by the pending one within the request')
  t.equal((await admin('GET', ROTATION)).statusCode, 404, 'completed by that login')

  const checked = await admin('POST', '/health/salesforce/acme/check')
  t.equal(checked.statusCode, 200, checked.body)
  const health = checked.json()
  t.match(health.certificate, { fingerprint256: first.certificate.fingerprint256, daysLeft: 10, ageDays: 0, keyCustody: 'store' })
  t.ok(Math.abs(Date.parse(health.certificate.issuedAt) - Date.now()) < 120_000, 'made just now')
  t.equal(health.status, 'ok', 'outside CERT_EXPIRY_WARN_DAYS (7): ok')
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /sfb_connection_certificate_issued_timestamp_seconds\{connection="acme"\} \d+/)
  t.match(metrics, /sfb_connection_certificate_expiry_timestamp_seconds\{connection="acme"\} \d+/)

  const next = await admin('GET', ROTATION)
  t.equal(next.statusCode, 200, 'the check started the next rotation by itself')
  t.not(next.json().certificate.fingerprint256, first.certificate.fingerprint256, 'a new key and certificate, waiting for the upload')
  const audit = (await admin('GET', '/v1/admin/audit?connection=acme')).json().events as Array<{ action: string, actor: string }>
  t.ok(audit.some(e => e.action === 'migration.start' && e.actor === 'sf-broker'), 'started by the broker, audited')
})

t.test('a health check between the upload and the next caller login completes the rotation instead of pausing logins', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { principals })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (rejectedToken?: string) => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), ...(rejectedToken ? { payload: { rejectedToken } } : {}) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  const view = (await admin('POST', ROTATION)).json()
  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: view.certificate.pem })

  const checked = await admin('POST', '/health/salesforce/acme/check')
  t.equal(checked.statusCode, 200, checked.body)
  t.match(checked.json(), { status: 'ok', classification: 'ok', circuit: { state: 'closed' } })
  t.equal((await admin('GET', ROTATION)).statusCode, 404, 'the check\'s login completed the rotation')
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().version, 2)

  await setup(sim, 'POST', '/sessions/expire')
  const dead = (await session()).json().accessToken
  const fresh = await session(dead)
  t.equal(fresh.statusCode, 200, 'callers log in with the new key; nothing paused')
})

t.test("a rotation keeps the connection's own settings: an audit opt-out and an explicit JWT audience", async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const audience = new URL(sim.loginUrl).origin
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer', { auditSessions: false, jwtAudience: audience }))).statusCode, 201)
  const started = (await admin('POST', ROTATION)).json()
  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: started.certificate.pem })
  t.equal((await admin('POST', `${ROTATION}/validate`)).json().ok, true)
  t.equal((await admin('POST', `${ROTATION}/complete`)).statusCode, 200)
  t.match((await admin('GET', '/v1/admin/connections/acme')).json(), { version: 2, auditSessions: false, jwtAudience: audience }, 'as before the rotation')
})

t.test('a setting written while a rotation is pending is not undone by the switch', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  const started = (await admin('POST', ROTATION)).json()
  // meanwhile another admin records the org's new session timeout and what the integration needs
  const changed = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer', { sessionTimeoutSeconds: 900, requiredPermissions: ['PermissionsApiEnabled'] }))
  t.equal(changed.json().version, 2, changed.body)
  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: started.certificate.pem })
  t.equal((await admin('POST', `${ROTATION}/validate`)).json().ok, true)
  t.equal((await admin('POST', `${ROTATION}/complete`)).statusCode, 200)
  t.match((await admin('GET', '/v1/admin/connections/acme')).json(), { version: 3, sessionTimeoutSeconds: 900, requiredPermissions: ['PermissionsApiEnabled'] }, "version 2's settings, with the new key")
})

// An admin who pins the switch to the version read (If-Match, RFC 9110 §13.1.1) must not have it made
// on a connection changed since: the migration's complete, which the rotation's is, already says 409.
t.test('the switch honours If-Match: a connection changed since the version named is not switched', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object, headers: Record<string, string> = {}) =>
    app.inject({ method, url, payload, headers: { ...bearer(principals.adminKey), ...headers } })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  const started = (await admin('POST', ROTATION)).json()
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer', { sessionTimeoutSeconds: 900 }))).json().version, 2, 'another admin changed it meanwhile')
  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: started.certificate.pem })
  t.equal((await admin('POST', `${ROTATION}/validate`)).json().ok, true)

  const stale = await admin('POST', `${ROTATION}/complete`, undefined, { 'if-match': '"1"' })
  t.equal(stale.statusCode, 409, stale.body)
  t.equal(stale.json().type, 'urn:sf-broker:problem:conflict')
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().version, 2, 'not switched')
  const done = await admin('POST', `${ROTATION}/complete`, undefined, { 'if-match': '"2"' })
  t.equal(done.statusCode, 200, done.body)
  t.equal(done.headers.etag, '"3"')
})

t.test('a rotation started before the connection moved to another user does not switch it back', async (t) => {
  const OPS = 'ops@acme.example'
  const org = acmeOrg()
  const sim = await startSim(t, [{ ...org, users: [...org.users!, { username: OPS, password: 'Ops-Passw0rd-123', securityToken: 'TOKENops0123' }] }])
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, { secretStore: await tempFileStore(t), principals })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  const view = (await admin('POST', ROTATION)).json()

  // meanwhile another admin moves the connection to another integration user
  const moved = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer', { username: OPS }))
  t.equal(moved.statusCode, 200, moved.body)

  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: view.certificate.pem })
  t.equal((await admin('POST', `${ROTATION}/validate`)).json().classification, 'ok', 'the pending key logs in as the user it was made for')
  const done = await admin('POST', `${ROTATION}/complete`)
  t.equal(done.statusCode, 409, done.body)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().username, OPS, 'the connection keeps the user it was moved to')
})

t.test('CERT_ROTATION_START_DAYS: a start that fails (the store refuses the pending key) is tried again an hour later, not at every check', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['acme'])
  const dir = await mkdtemp(join(tmpdir(), 'sfb-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const store = new FileSecretStore({ path: join(dir, 'connections.enc'), key: randomBytes(32) })
  const calendar = { offsetMs: 0 }
  const { app } = await buildTestApp(t, {
    principals,
    secretStore: store,
    env: { JWT_CERT_VALIDITY_DAYS: '10', CERT_ROTATION_START_DAYS: '14' },
    overrides: { rotationCalendar: () => Date.now() + calendar.offsetMs },
  })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  // a first rotation by hand: a certificate the broker made, 10 days long, within the policy's 14
  const first = (await admin('POST', ROTATION)).json()
  await setup(sim, 'PUT', `/apps/${ACME.clientId}/certificate`, { certificatePem: first.certificate.pem })
  t.equal((await admin('POST', `${ROTATION}/validate`)).json().ok, true)
  t.equal((await admin('POST', `${ROTATION}/complete`)).statusCode, 200)
  // from now on the pending key cannot be kept (its file is a folder; in Vault: a policy without that path)
  const pendingFile = join(dir, 'connections.enc._migrations')
  await rm(pendingFile, { force: true })
  await mkdir(pendingFile)

  // what each check of the validation round does (the round logs a failure as a warning)
  const check = () => app.broker.certificateRotation.startIfDue('acme').then(() => 'nothing to do', () => 'failed')
  t.same([await check(), await check(), await check()], ['failed', 'nothing to do', 'nothing to do'], 'three checks, one attempt')
  calendar.offsetMs = 61 * 60_000
  t.equal(await check(), 'failed', 'tried again an hour later')
})
