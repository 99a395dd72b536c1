import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { FileSecretStore } from '../../src/secrets/file-store.ts'
import { testPrincipals } from '../support/principals.ts'
import { openApiDocument } from '../../scripts/openapi-document.ts'

/**
 * What answers without credentials (probes, monitoring, scrapers) says little —
 * statuses, not Salesforce's words, file paths, API usage or circuit detail.
 */

const DETAIL_FIELDS = ['classification', 'message', 'hint', 'checkKind', 'circuit', 'apiUsage', 'consecutiveFailures', 'secretVersion', 'latencyMs', 'sessionValidUntil']

t.test('readiness names no file paths, and still says which dependency is down', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-ready-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'connections.enc')
  const writer = new FileSecretStore({ path, key: randomBytes(32) })
  await writer.write('acme', { flow: 'client_credentials', loginUrl: 'https://acme.my.salesforce.com', clientId: 'x', clientSecret: 'y', apiVersion: '62.0', sessionTimeoutSeconds: 7200 }, 0)

  const { app: good } = await buildTestApp(t, { secretStore: writer })
  const ready = await good.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.notOk(ready.body.includes(dir), 'the secret file path is not shown')
  t.notOk(ready.body.includes('connections.enc'), 'nor its name')
  t.match(ready.json().checks.secretStore, { ok: true, detail: /^file: / })

  // the same file under a wrong key: the store is unusable, and readiness says so without the path
  const { app: bad } = await buildTestApp(t, { secretStore: new FileSecretStore({ path, key: randomBytes(32) }) })
  const down = await bad.inject({ url: '/health/ready' })
  t.equal(down.statusCode, 503)
  t.equal(down.json().status, 'not_ready')
  t.match(down.json().checks.secretStore, { ok: false, detail: /^file: .*(read|decrypt)/ })
  t.notOk(down.body.includes(dir), 'the secret file path is not shown when it fails either')
  t.notOk(down.body.includes('connections.enc'))
})

t.test('/health/salesforce: statuses for everybody, details for admins', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  await store.write('broken', acmeDefinition(sim, 'oauth_password', { password: 'not-the-password' }), 0)
  const principals = testPrincipals(['acme', 'broken'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = bearer(principals.adminKey)
  t.equal((await app.inject({ method: 'POST', url: '/health/salesforce/broken/check', headers: admin })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/health/salesforce/acme/check', headers: admin })).statusCode, 200)

  const anonymous = await app.inject({ url: '/health/salesforce' })
  t.equal(anonymous.statusCode, 503, 'a failing connection still fails the probe')
  t.equal(anonymous.headers['cache-control'], 'no-store')
  const summary = anonymous.json()
  t.same(Object.keys(summary).sort(), ['checkedAt', 'connections', 'status', 'view'])
  t.match(summary, { view: 'summary', status: 'failing' })
  t.same(summary.connections, [{ connection: 'acme', status: 'ok' }, { connection: 'broken', status: 'failing' }], 'per connection: its status only')
  for (const field of DETAIL_FIELDS) t.notOk(anonymous.body.includes(`"${field}"`), `no ${field} without credentials`)
  t.notOk(/INVALID|password|Setup/i.test(anonymous.body), 'no Salesforce words or hints')

  const one = await app.inject({ url: '/health/salesforce?connection=broken' })
  t.equal(one.statusCode, 503)
  t.same(one.json().connections, [{ connection: 'broken', status: 'failing' }])

  const service = await app.inject({ url: '/health/salesforce', headers: bearer(principals.billingKey) })
  t.equal(service.json().view, 'summary', 'a service key is not an admin key')
  t.same(service.json().connections[1], { connection: 'broken', status: 'failing' })

  const wrong = await app.inject({ url: '/health/salesforce', headers: bearer('sfb.ops.' + 'A'.repeat(32)) })
  t.equal(wrong.statusCode, 401, 'credentials that were sent must be right (a monitor with a stale key notices)')
  t.equal(wrong.json().type, 'urn:sf-broker:problem:unauthenticated')

  const detailed = await app.inject({ url: '/health/salesforce', headers: admin })
  t.equal(detailed.statusCode, 503)
  t.equal(detailed.json().view, 'full')
  const broken = detailed.json().connections.find((c: { connection: string }) => c.connection === 'broken')
  t.match(broken, { status: 'failing', classification: 'invalid_credentials', checkKind: 'full', circuit: { state: 'open' } })
  t.match(broken.hint, /password|security token/i)
  t.ok(detailed.json().connections[0].apiUsage, 'API usage for admins')

  const { app: open } = await buildTestApp(t, { secretStore: store, principals, env: { HEALTH_DETAILS: 'public' } })
  await open.inject({ method: 'POST', url: '/health/salesforce/broken/check', headers: admin })
  const optedIn = await open.inject({ url: '/health/salesforce?connection=broken' })
  t.equal(optedIn.json().view, 'full', 'HEALTH_DETAILS=public shows the details to everybody')
  t.match(optedIn.json().connections[0], { classification: 'invalid_credentials', hint: /./ })
})

t.test('/metrics can require a bearer token (METRICS_TOKEN or METRICS_TOKEN_FILE)', async (t) => {
  const token = randomBytes(24).toString('base64url')
  const { app } = await buildTestApp(t, { env: { METRICS_TOKEN: token } })
  const none = await app.inject({ url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(none.json().type, 'urn:sf-broker:problem:unauthenticated')
  t.match(String(none.headers['www-authenticate']), /^Bearer/)
  t.equal((await app.inject({ url: '/metrics', headers: bearer(token.slice(0, -1)) })).statusCode, 401, 'a prefix of the token')
  t.equal((await app.inject({ url: '/metrics', headers: bearer(token + 'x') })).statusCode, 401, 'the token and more')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: token } })).statusCode, 401, 'not as a bearer')
  const ok = await app.inject({ url: '/metrics', headers: bearer(token) })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /sfb_/)

  const dir = await mkdtemp(join(tmpdir(), 'sfb-metrics-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'token')
  await writeFile(file, `${token}\n`) // as a Kubernetes secret volume or `echo` writes it
  const { app: fromFile } = await buildTestApp(t, { env: { METRICS_TOKEN_FILE: file } })
  t.equal((await fromFile.inject({ url: '/metrics' })).statusCode, 401)
  t.equal((await fromFile.inject({ url: '/metrics', headers: bearer(token) })).statusCode, 200, 'the token read from the file')

  const { app: publicMetrics } = await buildTestApp(t)
  t.equal((await publicMetrics.inject({ url: '/metrics' })).statusCode, 200, 'without METRICS_TOKEN, /metrics stays open (restrict it at the network)')
})

t.test('the OpenAPI document shows both views of /health/salesforce and the optional credentials', async (t) => {
  const doc = JSON.parse(await openApiDocument())
  const summary = doc.components.schemas.SalesforceHealthSummary
  t.ok(summary, 'a schema for the public view')
  const row = summary.properties.connections.items
  t.same(Object.keys(row.properties).sort(), ['connection', 'status'], 'which cannot carry the detail fields')
  t.equal(row.additionalProperties, false)
  const op = doc.paths['/health/salesforce'].get
  const refs = JSON.stringify(op.responses['200'].content['application/json'].schema)
  t.match(refs, /SalesforceHealthSummary/)
  t.match(refs, /SalesforceHealth\b/)
  t.same(op.security, [{}, { bearer: [] }], 'credentials optional')
  t.same(doc.paths['/metrics'].get.security, [{}, { metricsToken: [] }])
})
