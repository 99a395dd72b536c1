import t from 'tap'
import { generateTestKeyPair } from '../src/index.ts'
import { APP, USER, getWithToken, postForm, signAssertion, startAcme } from './fixtures.ts'

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const keys = generateTestKeyPair()
const otherKeys = generateTestKeyPair()

async function jwtLogin (url: string, assertion: string) {
  return postForm(`${url}/services/oauth2/token`, { grant_type: JWT_GRANT, assertion })
}

t.test('generateTestKeyPair returns a PKCS#8 private key and an SPKI public key', async t => {
  t.match(keys.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/)
  t.match(keys.certificatePem, /^-----BEGIN PUBLIC KEY-----/)
})

t.test('JWT bearer: success on the login host and on My Domain', async t => {
  const sim = await startAcme(t, { connectedApps: [{ ...APP, certificatePem: keys.certificatePem }] })
  const org = sim.org('acme')
  const atLogin = await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' }))
  t.equal(atLogin.status, 200)
  t.same(Object.keys(atLogin.json), ['access_token', 'scope', 'instance_url', 'id', 'token_type', 'issued_at', 'signature'])
  t.equal(atLogin.json.instance_url, sim.myDomainUrl('acme'))
  t.equal(atLogin.json.id, `${sim.loginUrl}/id/${org.orgId}/${org.users.get(USER.username)!.userId}`)
  const atMyDomain = await jwtLogin(sim.myDomainUrl('acme'), await signAssertion(keys.privateKeyPem, { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' }))
  t.equal(atMyDomain.status, 200, 'posted to My Domain with the production audience')
  const sandboxAud = await jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, { iss: APP.clientId, sub: USER.username, aud: 'https://test.salesforce.com' }))
  t.equal(sandboxAud.status, 200)
  const userinfo = await getWithToken(`${sim.myDomainUrl('acme')}/services/oauth2/userinfo`, atLogin.json.access_token)
  t.equal(userinfo.json.preferred_username, USER.username)
})

t.test('JWT bearer: refused assertions', async t => {
  const sim = await startAcme(t, { connectedApps: [{ ...APP, certificatePem: keys.certificatePem }] })
  const good = { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' }
  const cases: Array<[string, string, unknown]> = [
    ['wrong key', await signAssertion(otherKeys.privateKeyPem, good), { error: 'invalid_grant', error_description: 'invalid assertion' }],
    ['not a JWT', 'not-a-jwt', { error: 'invalid_grant', error_description: 'invalid assertion' }],
    ['wrong aud', await signAssertion(keys.privateKeyPem, { ...good, aud: 'https://evil.example.com' }), { error: 'invalid_grant', error_description: 'audience is invalid' }],
    ['expired', await signAssertion(keys.privateKeyPem, { ...good, expInSeconds: -5 }), { error: 'invalid_grant', error_description: 'expired authorization code' }],
    ['unknown iss', await signAssertion(keys.privateKeyPem, { ...good, iss: 'who' }), { error: 'invalid_client_id', error_description: 'client identifier invalid' }],
    ['unknown sub', await signAssertion(keys.privateKeyPem, { ...good, sub: 'ghost@acme.example' }), { error: 'invalid_grant', error_description: "user hasn't approved this consumer" }],
  ]
  for (const [name, assertion, expected] of cases) {
    const res = await jwtLogin(sim.loginUrl, assertion)
    t.equal(res.status, 400, name)
    t.same(res.json, expected, name)
  }
  t.equal(sim.stats('acme').failures, 4, 'every refused assertion that names an app counts in its org')
})

t.test('JWT bearer: app and user policies', async t => {
  const sim = await startAcme(t, { connectedApps: [{ ...APP, certificatePem: keys.certificatePem, permittedUsers: 'admin_approved' }] })
  const org = sim.org('acme')
  const app = org.connectedApps.get(APP.clientId)!
  const login = async () => jwtLogin(sim.loginUrl, await signAssertion(keys.privateKeyPem, { iss: APP.clientId, sub: USER.username, aud: 'https://login.salesforce.com' }))
  t.same((await login()).json, { error: 'invalid_app_access', error_description: 'user is not admin approved to access this app' })
  app.preAuthorizedUsernames.push(USER.username)
  t.equal((await login()).status, 200)

  app.permittedUsers = 'all'
  app.userApprovedUsernames = []
  t.same((await login()).json, { error: 'invalid_grant', error_description: "user hasn't approved this consumer" }, 'self-authorize app the user never approved')
  app.userApprovedUsernames = undefined

  const user = org.users.get(USER.username)!
  user.active = false
  t.same((await login()).json, { error: 'invalid_grant', error_description: 'inactive user' })
  user.active = true
  user.loginIpRanges = ['198.51.100.0/24']
  t.same((await login()).json, { error: 'invalid_grant', error_description: 'IP restricted or invalid login hours' })
  user.loginIpRanges = undefined

  user.lockedUntil = Date.now() + 60_000
  t.equal((await login()).status, 200, 'a password lockout does not stop the JWT bearer flow')

  org.flows.jwtBearer = false
  t.same((await login()).json, { error: 'unsupported_grant_type', error_description: 'grant type not supported' })
})

t.test('client credentials: only on My Domain', async t => {
  const runAs = { ...APP, clientCredentialsUser: USER.username }
  const sim = await startAcme(t, { connectedApps: [runAs] })
  const form = { grant_type: 'client_credentials', client_id: APP.clientId, client_secret: APP.clientSecret }

  const atLogin = await postForm(`${sim.loginUrl}/services/oauth2/token`, form)
  t.equal(atLogin.status, 400)
  t.same(atLogin.json, { error: 'invalid_grant', error_description: 'request not supported on this domain' })

  const viaForm = await postForm(`${sim.myDomainUrl('acme')}/services/oauth2/token`, form)
  t.equal(viaForm.status, 200)
  t.equal(viaForm.json.scope, 'api')
  t.equal(viaForm.json.id.split('/').pop(), sim.org('acme').users.get(USER.username)!.userId, 'the session is the run-as user\'s')

  const basic = Buffer.from(`${APP.clientId}:${APP.clientSecret}`).toString('base64')
  const viaBasic = await postForm(`${sim.myDomainUrl('acme')}/services/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` })
  t.equal(viaBasic.status, 200, 'client id and secret may come as HTTP Basic')

  t.same(sim.stats('acme').byUser[USER.username], { attempts: 3, failures: 1, successes: 2 }, 'counted against the run-as user')
})

t.test('client credentials: refusals', async t => {
  const sim = await startAcme(t, { connectedApps: [{ ...APP }] })
  const url = `${sim.myDomainUrl('acme')}/services/oauth2/token`
  const form = { grant_type: 'client_credentials', client_id: APP.clientId, client_secret: APP.clientSecret }
  t.same((await postForm(url, form)).json, { error: 'invalid_grant', error_description: 'no client credentials user enabled' })
  const app = sim.org('acme').connectedApps.get(APP.clientId)!
  app.clientCredentialsUser = USER.username
  t.same((await postForm(url, { ...form, client_secret: 'nope' })).json, { error: 'invalid_client', error_description: 'invalid client credentials' })
  t.same((await postForm(url, { ...form, client_id: 'nope' })).json, { error: 'invalid_client_id', error_description: 'client identifier invalid' })
  app.permittedUsers = 'admin_approved'
  t.same((await postForm(url, form)).json, { error: 'invalid_app_access', error_description: 'user is not admin approved to access this app' })
  app.permittedUsers = 'all'
  sim.org('acme').flows.clientCredentials = false
  t.same((await postForm(url, form)).json, { error: 'invalid_grant', error_description: 'client credentials flow not enabled' })
})
