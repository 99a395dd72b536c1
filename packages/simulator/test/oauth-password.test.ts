import { createHmac } from 'node:crypto'
import t from 'tap'
import jsforce from 'jsforce'
import { APP, TestTime, USER, getWithToken, passwordLogin, postForm, startAcme } from './fixtures.ts'

const AUTH_FAILURE = { error: 'invalid_grant', error_description: 'authentication failure' }

t.test('username-password flow: the success body has exactly Salesforce\'s fields', async t => {
  const sim = await startAcme(t)
  const org = sim.org('acme')
  const user = org.users.get(USER.username)!
  const before = Date.now()
  const res = await passwordLogin(sim.loginUrl)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /application\/json/)
  t.same(Object.keys(res.json), ['access_token', 'instance_url', 'id', 'token_type', 'issued_at', 'signature'])
  t.equal(res.json.instance_url, sim.myDomainUrl('acme'))
  t.equal(res.json.id, `${sim.loginUrl}/id/${org.orgId}/${user.userId}`)
  t.equal(res.json.token_type, 'Bearer')
  t.match(res.json.issued_at, /^\d{13}$/)
  t.ok(Number(res.json.issued_at) >= before)
  t.match(res.json.access_token, new RegExp(`^${org.orgId.slice(0, 15)}!`))
  const expected = createHmac('sha256', APP.clientSecret).update(res.json.id + res.json.issued_at).digest('base64')
  t.equal(res.json.signature, expected, 'signature is HMAC-SHA256(client secret, id + issued_at)')
  t.match(org.orgId, /^00D[0-9A-Za-z]{15}$/)
  t.match(user.userId, /^005[0-9A-Za-z]{15}$/)

  const onMyDomain = await passwordLogin(sim.myDomainUrl('acme'))
  t.equal(onMyDomain.status, 200, 'the My Domain token endpoint serves the flow too')
  const limits = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, res.json.access_token)
  t.equal(limits.status, 200, 'the token opens the REST API')
})

t.test('wrong password, wrong token and missing token are all "authentication failure"', async t => {
  const sim = await startAcme(t, { lockout: { maxAttempts: 0, durationSeconds: 1 } })
  for (const password of ['nope' + USER.securityToken, USER.password + 'WRONG', USER.password]) {
    const res = await passwordLogin(sim.loginUrl, password)
    t.equal(res.status, 400)
    t.same(res.json, AUTH_FAILURE)
  }
  const unknown = await passwordLogin(sim.loginUrl, 'x', 'nobody@acme.example')
  t.same(unknown.json, AUTH_FAILURE, 'an unknown username too')
})

t.test('from a trusted IP range the security token may be left off', async t => {
  const sim = await startAcme(t, { trustedIpRanges: ['127.0.0.0/8'] })
  t.equal((await passwordLogin(sim.loginUrl, USER.password)).status, 200)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'appending it still works')
  sim.org('acme').trustedIpRanges = ['10.0.0.0/8']
  t.same((await passwordLogin(sim.loginUrl, USER.password)).json, AUTH_FAILURE)
  sim.org('acme').users.get(USER.username)!.loginIpRanges = ['127.0.0.1/32']
  t.equal((await passwordLogin(sim.loginUrl, USER.password)).status, 200, 'the profile\'s Login IP Ranges also exempt from the token')
})

t.test('client errors', async t => {
  const sim = await startAcme(t)
  const badId = await passwordLogin(sim.loginUrl, undefined, undefined, { ...APP, clientId: 'unknown' })
  t.equal(badId.status, 400)
  t.same(badId.json, { error: 'invalid_client_id', error_description: 'client identifier invalid' })
  const badSecret = await passwordLogin(sim.loginUrl, undefined, undefined, { ...APP, clientSecret: 'wrong' })
  t.same(badSecret.json, { error: 'invalid_client', error_description: 'invalid client credentials' })
  const unsupported = { error: 'unsupported_grant_type', error_description: 'grant type not supported' }
  t.same((await postForm(`${sim.loginUrl}/services/oauth2/token`, { grant_type: 'authorization_code', code: 'x' })).json, unsupported)
  t.same((await postForm(`${sim.loginUrl}/services/oauth2/token`, { username: USER.username })).json, unsupported)
  const asJson = await fetch(`${sim.loginUrl}/services/oauth2/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password' }),
  })
  t.equal(asJson.status, 400)
  t.same(await asJson.json(), unsupported, 'a body that is not form-encoded is not read, as on Salesforce')
})

t.test('user and org policies', async t => {
  const sim = await startAcme(t)
  const org = sim.org('acme')
  const user = org.users.get(USER.username)!

  user.active = false
  t.same((await passwordLogin(sim.loginUrl)).json, { error: 'invalid_grant', error_description: 'inactive user' })
  user.active = true

  const restricted = { error: 'invalid_grant', error_description: 'IP restricted or invalid login hours' }
  user.loginIpRanges = ['192.0.2.0/24']
  t.same((await passwordLogin(sim.loginUrl)).json, restricted)
  user.loginIpRanges = undefined
  const hour = new Date().getUTCHours()
  user.loginHours = { startHour: (hour + 1) % 24, endHour: (hour + 2) % 24 }
  t.same((await passwordLogin(sim.loginUrl)).json, restricted)
  user.loginHours = { startHour: hour, endHour: (hour + 1) % 24 }
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'inside the login hours')
  user.loginHours = undefined

  user.apiEnabled = false
  t.same((await passwordLogin(sim.loginUrl)).json, AUTH_FAILURE, 'a profile without API Enabled')
  user.apiEnabled = true

  org.flows.oauthPassword = false
  t.same((await passwordLogin(sim.loginUrl)).json, AUTH_FAILURE, 'a blocked username-password flow says authentication failure')
  org.flows.oauthPassword = true

  const app = org.connectedApps.get(APP.clientId)!
  app.permittedUsers = 'admin_approved'
  t.same((await passwordLogin(sim.loginUrl)).json, { error: 'invalid_app_access', error_description: 'user is not admin approved to access this app' })
  app.preAuthorizedUsernames = [USER.username]
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'a pre-authorized user')
})

t.test('lockout after N failures hides behind "authentication failure", then lifts', async t => {
  const time = new TestTime()
  const sim = await startAcme(t, { lockout: { maxAttempts: 3, durationSeconds: 900 } }, [], time)
  for (let i = 0; i < 3; i++) t.same((await passwordLogin(sim.loginUrl, 'bad')).json, AUTH_FAILURE)
  const locked = await passwordLogin(sim.loginUrl)
  t.same(locked.json, AUTH_FAILURE, 'the right password is refused while locked, with the same answer')
  time.advance(900_000 - 1)
  t.same((await passwordLogin(sim.loginUrl)).json, AUTH_FAILURE, 'still locked a millisecond before the duration ends')
  time.advance(1)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'unlocked after the lockout duration')
  t.equal(sim.org('acme').users.get(USER.username)!.failedLogins, 0)
})

t.test('lockout effective period "Forever": the user stays locked until an admin unlocks', async t => {
  const time = new TestTime()
  const sim = await startAcme(t, { lockout: { maxAttempts: 3, durationSeconds: 0 } }, [], time)
  for (let i = 0; i < 3; i++) await passwordLogin(sim.loginUrl, 'bad')
  const user = sim.org('acme').users.get(USER.username)!
  t.equal(user.failedLogins, 0, 'reaching the maximum resets the counter as it locks the user')
  t.same((await passwordLogin(sim.loginUrl)).json, AUTH_FAILURE, 'locked')
  time.advance(30 * 86_400_000)
  t.same((await passwordLogin(sim.loginUrl)).json, AUTH_FAILURE, 'still locked a month later')
  const unlock = await postForm(`${sim.loginUrl}/_sim/orgs/acme/users/${encodeURIComponent(USER.username)}`, {})
  t.equal(unlock.status, 404, '(the control API wants PATCH)')
  const patched = await fetch(`${sim.loginUrl}/_sim/orgs/acme/users/${encodeURIComponent(USER.username)}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ locked: false }) })
  t.equal((await patched.json() as { locked: boolean }).locked, false)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'unlocked by the admin')
})

t.test('a success resets the failure count', async t => {
  const sim = await startAcme(t, { lockout: { maxAttempts: 3, durationSeconds: 60 } })
  await passwordLogin(sim.loginUrl, 'bad')
  await passwordLogin(sim.loginUrl, 'bad')
  t.equal((await passwordLogin(sim.loginUrl)).status, 200)
  await passwordLogin(sim.loginUrl, 'bad')
  await passwordLogin(sim.loginUrl, 'bad')
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'two more failures do not lock')
})

t.test('login rate per user per hour', async t => {
  const time = new TestTime()
  const sim = await startAcme(t, { loginRatePerHour: 2 }, [], time)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200)
  time.advance(60_000)
  t.equal((await passwordLogin(sim.loginUrl, 'bad')).status, 400)
  const third = await passwordLogin(sim.loginUrl)
  t.equal(third.status, 400)
  t.same(third.json, { error: 'rate_limit_exceeded', error_description: 'Number of logins exceeded' })
  t.same(sim.stats('acme').byUser[USER.username], { attempts: 3, failures: 2, successes: 1 })
  time.advance(3_600_000 - 60_000 - 1)
  t.equal((await passwordLogin(sim.loginUrl)).status, 400, 'the first attempt still counts a millisecond before its hour ends')
  time.advance(1)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200, 'an hour after the first attempt there is room for one more')
})

t.test('security token reset: the old token stops working', async t => {
  const sim = await startAcme(t)
  const fresh = sim.resetSecurityToken('acme', USER.username)
  t.not(fresh, USER.securityToken)
  t.same((await passwordLogin(sim.loginUrl)).json, AUTH_FAILURE)
  t.equal((await passwordLogin(sim.loginUrl, USER.password + fresh)).status, 200)
})

t.test('jsforce logs in with the OAuth2 password flow and queries', async t => {
  const sim = await startAcme(t)
  const conn = new jsforce.Connection({
    loginUrl: sim.loginUrl,
    version: '62.0',
    oauth2: { loginUrl: sim.loginUrl, clientId: APP.clientId, clientSecret: APP.clientSecret, redirectUri: 'http://localhost/cb' },
  })
  const info = await conn.login(USER.username, USER.password + USER.securityToken)
  t.equal(info.organizationId, sim.org('acme').orgId)
  t.equal(conn.instanceUrl, sim.myDomainUrl('acme'))
  const result = await conn.query<{ Id: string, Name: string }>('SELECT Id, Name FROM Account')
  t.equal(result.totalSize, 3)
  t.equal(result.records[0].Name, 'Edge Communications')
})

t.test('stats count every token request', async t => {
  const sim = await startAcme(t)
  await passwordLogin(sim.loginUrl)
  await passwordLogin(sim.loginUrl, 'bad')
  await passwordLogin(sim.loginUrl, 'x', 'ghost@nowhere.example', { ...APP, clientId: 'unknown' })
  t.same(sim.stats('acme'), { attempts: 2, failures: 1, successes: 1, byUser: { [USER.username]: { attempts: 2, failures: 1, successes: 1 } } })
  const all = sim.stats()
  t.equal(all.attempts, 3, 'an attempt no org can claim still counts in the total')
  t.same(all.byUser['ghost@nowhere.example'], { attempts: 1, failures: 1, successes: 0 })
  sim.resetStats()
  t.equal(sim.stats().attempts, 0)
})

t.test('from 2027-02-20 (00:00 UTC) the username-password flow of connected apps answers "authentication failure", whatever the org allows', async t => {
  const time = new TestTime()
  time.advance(Date.UTC(2027, 1, 20) - 1 - time.now())
  const sim = await startAcme(t, { oauthPasswordFlowRetiredAt: undefined }, [], time)
  const before = await passwordLogin(sim.loginUrl)
  t.equal(before.status, 200, 'the last millisecond before the enforcement date')
  time.advance(1)
  const after = await passwordLogin(sim.loginUrl)
  t.equal(after.status, 400)
  t.same(after.json, AUTH_FAILURE)
  t.equal(sim.org('acme').users.get(USER.username)!.failedLogins, 0, 'no password judged: nothing counts towards the lockout')
  t.equal((await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, before.json.access_token)).status, 200, 'a session issued before keeps working')

  const later = await startAcme(t, { oauthPasswordFlowRetiredAt: Date.UTC(2027, 5, 1) }, [], time)
  t.equal((await passwordLogin(later.loginUrl)).status, 200, 'a test may move the date')
})
