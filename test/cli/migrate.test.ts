import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { ACME } from '../helper.ts'
import { startBroker } from '../support/broker.ts'
import { api, sfb, simControl } from './support.ts'

const ECA = '3MVG9eca.external.client.app'

t.test('sfb migrate: an oauth_password connection moves to jwt_bearer step by step; sessions revoke; check --probe', async (t) => {
  const broker = await startBroker(t, { acme: { flow: 'oauth_password' } })
  const env = { SFB_URL: broker.baseUrl, SFB_ADMIN_KEY: broker.principals.adminKey }
  const admin = (method: string, path: string) => api(broker.baseUrl, broker.principals.adminKey, method, path)
  const setup = (method: string, path: string, body?: unknown) => simControl(broker.sim.loginUrl, method, `orgs/acme${path}`, body)

  const started = await sfb(['migrate', 'start', 'acme', '--to', 'jwt_bearer'], env)
  t.equal(started.code, 0, started.stderr)
  t.match(started.stdout, /migration of acme started \(nothing switches until complete\)\n[\s\S]*from:\s+oauth_password \(version 1, kept for rollback\)\nto:\s+jwt_bearer/)
  t.match(started.stdout, /checklist:\n {2}1\. /)
  const shown = await sfb(['migrate', 'show', 'acme', '--json'], env)
  t.same(JSON.parse(shown.stdout), (await admin('GET', '/v1/admin/connections/acme/migration')).json, '--json is the API\'s view')

  const pem = await sfb(['migrate', 'certificate', 'acme'], env)
  t.equal(pem.code, 0)
  const cert = new X509Certificate(pem.stdout)
  t.ok(cert.verify(cert.publicKey), 'the printed PEM is the self-signed certificate, ready for > cert.pem')

  await setup('PUT', `/apps/${ECA}`, { clientSecret: 'eca-secret-0123456789', permittedUsers: 'admin_approved' })
  const noCert = await sfb(['migrate', 'validate', 'acme', '--client-id', ECA], env)
  t.equal(noCert.code, 1, 'a failed validation exits 1')
  t.match(noCert.stdout, /result:\s+FAILED: invalid_assertion[\s\S]*next:\s+.*Upload the certificate/)

  await setup('PUT', `/apps/${ECA}/certificate`, { certificatePem: pem.stdout })
  await setup('PUT', `/apps/${ECA}/preauthorized/${encodeURIComponent(ACME.username)}`)
  const ok = await sfb(['migrate', 'validate', 'acme', '--json'], env)
  t.equal(ok.code, 0, ok.stdout)
  t.match(JSON.parse(ok.stdout), { ok: true, classification: 'ok' })

  // another admin rotates in between: a complete based on version 1 must be refused, not switch over it
  const rotated = await sfb(['connections', 'rotate', 'acme', 'securityToken', '--stdin'], env, `${ACME.securityToken}\n`)
  t.equal(rotated.code, 0, rotated.stderr)
  const stale = await sfb(['migrate', 'complete', 'acme', '--if-match', '1'], env)
  t.equal(stale.code, 4, '--if-match names a version that is no longer current: conflict')
  t.match((await admin('GET', '/v1/admin/connections/acme')).json, { flow: 'oauth_password', version: 2 }, 'nothing switched')
  const done = await sfb(['migrate', 'complete', 'acme', '--if-match', '2'], env)
  t.equal(done.code, 0, done.stderr)
  t.match(done.stdout, /switched acme to jwt_bearer: now version \d+ \(sfb connections rollback acme 2 goes back\)/)
  t.match((await admin('GET', '/v1/admin/connections/acme')).json, { flow: 'jwt_bearer' })
  t.equal((await sfb(['migrate', 'show', 'acme'], env)).code, 3, 'nothing pending any more')

  await t.test('abandon', async (t) => {
    t.equal((await sfb(['migrate', 'start', 'acme', '--to', 'jwt_bearer'], env)).code, 0, 'a key rotation is a migration too')
    const abandoned = await sfb(['migrate', 'abandon', 'acme', '--json'], env)
    t.equal(abandoned.code, 0)
    t.same(JSON.parse(abandoned.stdout), { abandoned: 'acme' })
    t.equal((await admin('GET', '/v1/admin/connections/acme/migration')).status, 404)
    t.equal((await sfb(['migrate', 'start', 'acme'], env)).code, 2, '--to is required')
    t.equal((await sfb(['migrate', 'start', 'acme', '--to', 'client_credentials', 'password'], env)).code, 2, 'only clientSecret is a migration secret')
  })

  await t.test('sessions revoke: the kill switch', async (t) => {
    const session = await fetch(`${broker.baseUrl}/v1/connections/acme/session`, { method: 'POST', headers: { authorization: `Bearer ${broker.principals.billingKey}` } })
    t.equal(session.status, 200)
    const revoked = await sfb(['sessions', 'revoke', 'acme', '--json'], env)
    t.equal(revoked.code, 0, revoked.stderr)
    // the session just handed out, and the one the rotation above logged in with (alive at Salesforce still)
    t.match(JSON.parse(revoked.stdout), { revoked: 2, pending: [] })
    t.match((await sfb(['sessions', 'revoke', 'acme'], env)).stdout, /sessions of acme revoked and dropped everywhere/)
    const events = (await admin('GET', '/v1/admin/audit?connection=acme')).json as { events: Array<{ action: string }> }
    t.ok(events.events.some(e => e.action === 'sessions.revoke'))
  })

  await t.test('check --probe asks for a login even while the circuit pauses them', async (t) => {
    const probed = await sfb(['check', 'acme', '--probe', '--json'], env)
    t.equal(probed.code, 0, probed.stderr)
    t.match(JSON.parse(probed.stdout), { connection: 'acme', status: /ok|warn/ })
    const events = (await admin('GET', '/v1/admin/audit?connection=acme')).json as { events: Array<{ action: string }> }
    t.equal(events.events[0].action, 'health.probe', 'audited as a probe, not a plain check')
  })
})
