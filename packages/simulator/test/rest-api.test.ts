import t from 'tap'
import { TestTime, USER, getWithToken, http, passwordLogin, postForm, startAcme } from './fixtures.ts'

const INVALID_SESSION = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]

async function token (baseUrl: string): Promise<string> {
  const res = await passwordLogin(baseUrl)
  if (res.status !== 200) throw new Error(`login failed: ${res.text}`)
  return res.json.access_token
}

t.test('limits: DailyApiRequests and the Sforce-Limit-Info header count every REST call', async t => {
  const sim = await startAcme(t, { apiRequestLimit: 3 })
  const url = `${sim.myDomainUrl('acme')}/services/data/v62.0/limits`
  const access = await token(sim.loginUrl)
  const first = await getWithToken(url, access)
  t.equal(first.status, 200)
  t.same(first.json.DailyApiRequests, { Max: 3, Remaining: 2 })
  t.equal(first.headers.get('sforce-limit-info'), 'api-usage=1/3')
  await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=SELECT+Id+FROM+Account`, access)
  t.equal((await getWithToken(url, access)).headers.get('sforce-limit-info'), 'api-usage=3/3')
  const over = await getWithToken(url, access)
  t.equal(over.status, 403)
  t.same(over.json, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }])
  t.equal(sim.org('acme').apiRequestsUsed, 3)
})

t.test('idle connections stay open a minute: a client stalled for seconds does not send on a connection closing under it', async t => {
  const sim = await startAcme(t)
  const answer = await fetch(`${sim.loginUrl}/services/data`)
  await answer.arrayBuffer()
  t.equal(answer.headers.get('keep-alive'), 'timeout=60')
})

t.test('query: records, COUNT(), and Salesforce\'s query errors', async t => {
  const sim = await startAcme(t)
  const access = await token(sim.loginUrl)
  const base = `${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=`
  const accounts = await getWithToken(base + encodeURIComponent('SELECT Id, Name FROM Account WHERE Name != null LIMIT 1'), access)
  t.equal(accounts.status, 200)
  t.same(Object.keys(accounts.json), ['totalSize', 'done', 'records'])
  t.same(Object.keys(accounts.json.records[0]), ['attributes', 'Id', 'Name'])
  t.equal(accounts.json.records[0].attributes.type, 'Account')
  const count = await getWithToken(base + encodeURIComponent('SELECT COUNT() FROM Account'), access)
  t.same(count.json, { totalSize: 3, done: true, records: [] })
  const users = await getWithToken(base + encodeURIComponent('SELECT Id, Username FROM User'), access)
  t.equal(users.json.records[0].Username, USER.username)
  const badType = await getWithToken(base + encodeURIComponent('SELECT Id FROM Nope'), access)
  t.equal(badType.status, 400)
  t.equal(badType.json[0].errorCode, 'INVALID_TYPE')
  t.equal((await getWithToken(base + encodeURIComponent('SELECT Nope FROM Account'), access)).json[0].errorCode, 'INVALID_FIELD')
  t.equal((await getWithToken(base + encodeURIComponent('DELETE Account'), access)).json[0].errorCode, 'MALFORMED_QUERY')
  const versions = await http(`${sim.myDomainUrl('acme')}/services/data`)
  t.ok(versions.json.some((v: { version: string }) => v.version === '62.0'))
})

t.test('a dead session answers 401 INVALID_SESSION_ID', async t => {
  const time = new TestTime()
  const sim = await startAcme(t, { sessionTimeoutSeconds: 7200 }, [{ key: 'globex' }], time)
  const url = `${sim.myDomainUrl('acme')}/services/data/v62.0/limits`

  const noHeader = await http(url)
  t.equal(noHeader.status, 401)
  t.same(noHeader.json, INVALID_SESSION)
  t.equal((await getWithToken(url, 'made-up')).status, 401)

  const timedOut = await token(sim.loginUrl)
  t.equal((await getWithToken(url, timedOut)).status, 200)
  time.advance(3600_000 - 1)
  t.equal((await getWithToken(url, timedOut)).status, 200, 'alive, used in the first half of the window (which does not extend it)')
  time.advance(3600_000 + 1)
  t.same((await getWithToken(url, timedOut)).json, INVALID_SESSION, 'after the org\'s session timeout')

  const expired = await token(sim.loginUrl)
  sim.expireSessions('acme')
  t.equal((await getWithToken(url, expired)).status, 401, 'after expireSessions()')

  const elsewhere = await token(sim.loginUrl)
  t.equal((await getWithToken(`${sim.myDomainUrl('globex')}/services/data/v62.0/limits`, elsewhere)).status, 401, 'another org\'s My Domain does not know the session')

  const revoked = await token(sim.loginUrl)
  const revoke = await postForm(`${sim.myDomainUrl('acme')}/services/oauth2/revoke`, { token: revoked })
  t.equal(revoke.status, 200)
  t.equal(revoke.text, '')
  t.equal((await getWithToken(url, revoked)).status, 401, 'after revoke')
  const again = await postForm(`${sim.myDomainUrl('acme')}/services/oauth2/revoke`, { token: revoked })
  t.equal(again.status, 400)
})

t.test('userinfo and the identity URL', async t => {
  const sim = await startAcme(t)
  const login = await passwordLogin(sim.loginUrl)
  const org = sim.org('acme')
  const userId = org.users.get(USER.username)!.userId
  const info = await getWithToken(`${sim.myDomainUrl('acme')}/services/oauth2/userinfo`, login.json.access_token)
  t.equal(info.status, 200)
  t.match(info.json, { sub: login.json.id, user_id: userId, organization_id: org.orgId, preferred_username: USER.username, active: true })
  const bad = await getWithToken(`${sim.myDomainUrl('acme')}/services/oauth2/userinfo`, 'nope')
  t.equal(bad.status, 403, 'the identity service answers a bad token with 403')
  t.equal(bad.text, 'Bad_OAuth_Token')
  const identity = await getWithToken(login.json.id, login.json.access_token)
  t.equal(identity.status, 200)
  t.match(identity.json, { id: login.json.id, user_id: userId, organization_id: org.orgId, username: USER.username })
})

t.test('org API access off: logins via OAuth still work, the REST API answers 403 API_DISABLED_FOR_ORG', async t => {
  const sim = await startAcme(t)
  sim.org('acme').apiEnabled = false
  const access = await token(sim.loginUrl)
  const res = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, access)
  t.equal(res.status, 403)
  t.same(res.json, [{ message: 'API is not enabled for this Organization or Partner', errorCode: 'API_DISABLED_FOR_ORG' }])
})

t.test('unknown paths answer 404', async t => {
  const sim = await startAcme(t)
  const res = await http(`${sim.myDomainUrl('acme')}/services/nothing`)
  t.equal(res.status, 404)
  t.same(res.json, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }])
})

t.test('the session timeout is an idle timeout: a call in the second half of the window extends the session, one in the first half does not', async t => {
  const time = new TestTime()
  const sim = await startAcme(t, { sessionTimeoutSeconds: 7200 }, [], time)
  const url = `${sim.myDomainUrl('acme')}/services/data/v62.0/limits`

  const busy = await token(sim.loginUrl)
  const early = await token(sim.loginUrl)
  time.advance(1800_000)
  t.equal((await getWithToken(url, early)).status, 200, 'used after 30 min: the first half, no extension')
  time.advance(3600_000)
  t.equal((await getWithToken(url, busy)).status, 200, 'used after 90 min: the second half, the timeout starts over')
  time.advance(1800_000)
  t.same((await getWithToken(url, early)).json, INVALID_SESSION, 'two hours after login, unused since its first half: ended')
  t.equal((await getWithToken(url, busy)).status, 200, 'two hours after login, used 30 min ago: alive')
  time.advance(7200_000 - 1800_000 - 1)
  t.equal((await getWithToken(url, busy)).status, 200, 'alive until two hours after the call that extended it')
  time.advance(7200_000)
  t.same((await getWithToken(url, busy)).json, INVALID_SESSION, 'two hours idle: ended')
})
