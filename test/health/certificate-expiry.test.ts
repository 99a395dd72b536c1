import t, { type Test } from 'tap'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

/**
 * A JWT bearer connection's certificate shows in health (admin view) with its expiry,
 * turns the connection warn inside CERT_EXPIRY_WARN_DAYS, and is exported for the chart's
 * SfBrokerCertificateExpiring alert. A key and certificate rotation is the same three steps.
 */
const MIGRATION = '/v1/admin/connections/acme/migration'

async function migratedApp (t: Test, env: Record<string, string>) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const principals = testPrincipals(['acme'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env })
  const admin = bearer(principals.adminKey)
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => app.inject({ method, url, payload, headers: admin })
  const setup = async (path: string) => {
    const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificatePem: (await call('GET', MIGRATION)).json().certificate.pem }) })
    t.ok(res.ok, path)
  }
  const migrate = async (check = true) => {
    t.equal((await call('POST', MIGRATION, { flow: 'jwt_bearer', clientId: ACME.clientId })).statusCode, 201)
    await setup(`/apps/${ACME.clientId}/certificate`)
    t.equal((await call('POST', `${MIGRATION}/validate`)).json().classification, 'ok')
    t.equal((await call('POST', `${MIGRATION}/complete`)).statusCode, 200)
    if (!check) return
    const checked = await call('POST', '/health/salesforce/acme/check')
    t.equal(checked.statusCode, 200, checked.body)
  }
  await migrate()
  const health = async () => (await call('GET', '/health/salesforce')).json().connections[0]
  const metric = async () => {
    const text = (await app.inject({ url: '/metrics' })).body
    const line = text.split('\n').find(l => l.startsWith('sfb_connection_certificate_expiry_timestamp_seconds{connection="acme"}'))
    return line === undefined ? undefined : Number(line.split(' ').pop())
  }
  return { app, call, migrate, health, metric }
}

t.test('a certificate far from its end: shown, ok, exported', async (t) => {
  const { health, metric } = await migratedApp(t, {})
  const acme = await health()
  t.equal(acme.status, 'ok')
  t.match(acme.certificate, { daysLeft: 730, keyCustody: 'store' })
  t.equal(await metric(), Math.floor(Date.parse(acme.certificate.notAfter) / 1000), 'sfb_connection_certificate_expiry_timestamp_seconds')
})

t.test('a certificate in its last day is not called expired: whole days left round up, as a flow sunset\'s do', async (t) => {
  const { health } = await migratedApp(t, { JWT_CERT_VALIDITY_DAYS: '1' })
  const acme = await health()
  t.equal(acme.status, 'warn')
  t.equal(acme.certificate.daysLeft, 1)
  t.match(acme.message, /\(in 1 day\)/)
  t.notMatch(acme.message, /already/)
})

t.test('inside CERT_EXPIRY_WARN_DAYS the connection is warn; a rotation (the same three steps) makes it ok again', async (t) => {
  const { health, metric, migrate, call } = await migratedApp(t, { JWT_CERT_VALIDITY_DAYS: '10' })
  const before = await health()
  t.equal(before.status, 'warn')
  t.equal(before.certificate.daysLeft, 10)
  t.match(before.message, /certificate .* expires/)
  t.match(before.hint, /certificate-rotation/)
  const oldExpiry = await metric()
  t.ok(oldExpiry !== undefined && oldExpiry - Date.now() / 1000 < 10 * 86400)

  // a rotation of an expiring certificate: same steps, a new key; CERT_EXPIRY_WARN_DAYS lowered to keep it ok
  const started = (await call('POST', MIGRATION, { flow: 'jwt_bearer' })).json()
  t.equal(started.rotation, true)
  t.match(started.checklist.join('\n'), /replace the certificate/)
  t.not(started.certificate.fingerprint256, before.certificate.fingerprint256, 'a new certificate')
  t.equal((await call('GET', '/v1/admin/connections/acme')).json().flow, 'jwt_bearer')
  t.equal((await call('POST', `${MIGRATION}/validate`)).json().classification, 'invalid_assertion', 'the app still holds the old certificate')
  t.equal((await call('DELETE', MIGRATION)).statusCode, 204, 'abandoned: the connection keeps its key')
  await migrate(false)
  const after = await health()
  t.not(after.certificate.fingerprint256, before.certificate.fingerprint256, 'health shows the new certificate')
})
