import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { jwtAudience } from '../../../src/salesforce/jwt-bearer.ts'
import { generateTestKeyPair } from '../src/index.ts'
import { APP, USER, http, postForm, signAssertion, startAcme } from './fixtures.ts'

/**
 * JWT bearer assertions checked as Salesforce documents them (OAuth 2.0 JWT Bearer Flow
 * for Server-to-Server Integration): RS256 over the certificate uploaded to the app, iss = consumer
 * key, sub = username, aud = https://login.salesforce.com or https://test.salesforce.com (or the host
 * posted to, the only choice when the org binds aud to the host), exp within
 * 3 minutes, user pre-authorized. And the control API a migration test needs: upload a certificate
 * to a connected app, pre-authorize a user.
 */

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const keys = generateTestKeyPair()
const jwtLogin = (url: string, assertion: string) => postForm(`${url}/services/oauth2/token`, { grant_type: JWT_GRANT, assertion })
const json = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

t.test('aud: login.salesforce.com or test.salesforce.com, or the host posted to; exp at most 3 minutes ahead', async t => {
  const sim = await startAcme(t, { connectedApps: [{ ...APP, certificatePem: keys.certificatePem }] })
  const good = { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' }
  t.equal((await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, good))).status, 200)
  t.equal((await jwtLogin(sim.myDomainUrl('acme'), await signAssertion(keys.privateKeyPem, good))).status, 200, 'posted to My Domain, aud login.salesforce.com (a connected app)')
  const myDomainAud = { ...good, aud: sim.myDomainUrl('acme') }
  t.equal((await jwtLogin(sim.myDomainUrl('acme'), await signAssertion(keys.privateKeyPem, myDomainAud))).status, 200, 'posted to My Domain, aud the My Domain: accepted for every app')
  const elsewhere = await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, myDomainAud))
  t.same(elsewhere.json, { error: 'invalid_grant', error_description: 'audience is invalid' }, 'a My Domain aud posted to another host is refused')
  sim.org('acme').jwtAudienceIsHost = true
  const generic = await jwtLogin(sim.myDomainUrl('acme'), await signAssertion(keys.privateKeyPem, good))
  t.same(generic.json, { error: 'invalid_grant', error_description: 'audience is invalid' }, 'bound to the host (External Client Apps): login.salesforce.com posted to My Domain is refused')
  t.equal((await jwtLogin(sim.myDomainUrl('acme'), await signAssertion(keys.privateKeyPem, myDomainAud))).status, 200)
  t.equal((await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, good))).status, 200, 'login.salesforce.com is the host when posted there')
  sim.org('acme').jwtAudienceIsHost = false
  const far = await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, { ...good, expInSeconds: 600 }))
  t.equal(far.status, 400, 'an assertion living 10 minutes is refused')
  t.equal(far.json.error, 'invalid_grant')
  t.equal((await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, { ...good, expInSeconds: 170 }))).status, 200)
})

t.test('the broker sends the audience Salesforce wants for each login host: the host itself', async t => {
  t.equal(jwtAudience('https://login.salesforce.com'), 'https://login.salesforce.com')
  t.equal(jwtAudience('https://acme.my.salesforce.com'), 'https://acme.my.salesforce.com', 'My Domain: its origin')
  t.equal(jwtAudience('https://test.salesforce.com'), 'https://test.salesforce.com')
  t.equal(jwtAudience('https://acme--uat.sandbox.my.salesforce.com'), 'https://acme--uat.sandbox.my.salesforce.com')
})

t.test('control API: upload a certificate to a connected app, pre-authorize a user', async t => {
  const sim = await startAcme(t) // the app has no certificate yet
  const base = `${sim.loginUrl}/_sim/orgs/acme/apps/${encodeURIComponent(APP.clientId)}`
  const assertion = await signAssertion(keys.privateKeyPem, { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' })
  t.same((await jwtLogin(sim.loginUrl, assertion)).json, { error: 'invalid_grant', error_description: 'invalid assertion' }, 'no certificate uploaded: refused')

  t.equal((await http(`${base}/certificate`, json('PUT', { certificatePem: 'not a certificate' }))).status, 400)
  const cert = selfSignedCertificate()
  const uploaded = await http(`${base}/certificate`, json('PUT', { certificatePem: cert.certificatePem }))
  t.equal(uploaded.status, 200)
  t.match(uploaded.json, { clientId: APP.clientId, certificate: { fingerprint256: /^[0-9A-F:]+$/ } })

  const withCert = await signAssertion(cert.privateKeyPem, { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' })
  t.equal((await jwtLogin(sim.loginUrl, withCert)).status, 200, 'signed with the uploaded certificate\'s key: accepted')

  const policy = await http(base, json('PATCH', { permittedUsers: 'admin_approved' }))
  t.equal(policy.status, 200)
  t.same((await jwtLogin(sim.loginUrl, withCert)).json, { error: 'invalid_app_access', error_description: 'user is not admin approved to access this app' }, 'admin approved, user not pre-authorized')
  const selfAuthorize = await http(base, json('PATCH', { permittedUsers: 'all', userApprovedUsernames: [] }))
  t.equal(selfAuthorize.status, 200)
  t.same((await jwtLogin(sim.loginUrl, withCert)).json, { error: 'invalid_grant', error_description: "user hasn't approved this consumer" }, 'self-authorize, never approved: no consent screen in this flow')
  await http(base, json('PATCH', { permittedUsers: 'admin_approved', userApprovedUsernames: null }))
  const pre = await http(`${base}/preauthorized/${encodeURIComponent(USER.username)}`, { method: 'PUT' })
  t.equal(pre.status, 200)
  t.same(pre.json.preAuthorizedUsernames, [USER.username])
  t.equal((await jwtLogin(sim.loginUrl, withCert)).status, 200, 'pre-authorized: accepted')
  t.equal((await http(`${base}/preauthorized/${encodeURIComponent(USER.username)}`, { method: 'DELETE' })).status, 200)
  t.equal((await jwtLogin(sim.loginUrl, withCert)).status, 400, 'authorization removed')

  t.equal((await http(`${sim.loginUrl}/_sim/orgs/acme/apps/nope/certificate`, json('PUT', { certificatePem: cert.certificatePem }))).status, 404)
  const created = await http(`${sim.loginUrl}/_sim/orgs/acme/apps/3MVG9new.eca`, json('PUT', { clientSecret: 'eca-secret', permittedUsers: 'admin_approved' }))
  t.equal(created.status, 200, 'a new app (an External Client App) can be created')
  t.match(created.json, { clientId: '3MVG9new.eca', permittedUsers: 'admin_approved', certificate: null })
  t.notOk(created.text.includes('eca-secret'), 'the consumer secret is not echoed')
})

/** A real X.509 certificate, as an admin uploads it ("Use digital signatures"). */
function selfSignedCertificate (): { certificatePem: string, privateKeyPem: string } {
  // node:crypto cannot issue certificates; openssl can, and is on every machine that runs the tests
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const dir = mkdtempSync(join(tmpdir(), 'sfb-cert-'))
  try {
    writeFileSync(join(dir, 'key.pem'), privateKeyPem, { mode: 0o600 })
    const certificatePem = execFileSync('openssl', ['req', '-new', '-x509', '-key', join(dir, 'key.pem'), '-subj', '/CN=sf-broker-test', '-days', '2', '-sha256']).toString()
    new X509Certificate(certificatePem) // eslint-disable-line no-new
    return { certificatePem, privateKeyPem }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
