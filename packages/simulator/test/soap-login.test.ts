import t from 'tap'
import jsforce from 'jsforce'
import { TestTime, USER, getWithToken, soapLogin, startAcme, xmlText } from './fixtures.ts'

const PASSWORD = USER.password + USER.securityToken
const FAULT_NS = 'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'

function faultEnvelope (code: string, message: string, faultType = 'LoginFault'): string {
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope ${FAULT_NS}><soapenv:Body><soapenv:Fault>` +
    `<faultcode>sf:${code}</faultcode><faultstring>${code}: ${message}</faultstring>` +
    `<detail><sf:${faultType} xsi:type="sf:${faultType}"><sf:exceptionCode>${code}</sf:exceptionCode>` +
    `<sf:exceptionMessage>${message}</sf:exceptionMessage></sf:${faultType}></detail>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
}

const INVALID_LOGIN = faultEnvelope('INVALID_LOGIN', 'Invalid username, password, security token; or user locked out.')

t.test('jsforce conn.login() over SOAP, then conn.query() on the session', async t => {
  const sim = await startAcme(t)
  const conn = new jsforce.Connection({ loginUrl: sim.loginUrl, version: '62.0' })
  const info = await conn.login(USER.username, PASSWORD)
  t.equal(info.organizationId, sim.org('acme').orgId)
  t.equal(info.id, sim.org('acme').users.get(USER.username)!.userId)
  t.equal(conn.instanceUrl, sim.myDomainUrl('acme'))
  const result = await conn.query('SELECT Id, Name FROM Account LIMIT 2')
  t.equal(result.totalSize, 2)
  t.equal(result.done, true)
  await conn.logout()
  const after = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, conn.accessToken ?? '')
  t.equal(after.status, 401, 'logout() ends the session')
})

t.test('loginResponse carries Salesforce\'s LoginResult fields', async t => {
  const sim = await startAcme(t, { sessionTimeoutSeconds: 3600 })
  const org = sim.org('acme')
  const res = await soapLogin(sim.loginUrl, USER.username, PASSWORD, '62.0')
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/xml/)
  const my = sim.myDomainUrl('acme')
  t.equal(xmlText(res.text, 'serverUrl'), `${my}/services/Soap/u/62.0/${org.orgId}`)
  t.equal(xmlText(res.text, 'metadataServerUrl'), `${my}/services/Soap/m/62.0/${org.orgId}`)
  t.equal(xmlText(res.text, 'passwordExpired'), 'false')
  t.equal(xmlText(res.text, 'sandbox'), 'false')
  t.equal(xmlText(res.text, 'organizationId'), org.orgId)
  t.equal(xmlText(res.text, 'sessionSecondsValid'), '3600')
  t.equal(xmlText(res.text, 'userName'), USER.username)
  t.match(res.text, /<soapenv:Envelope xmlns:soapenv="http:\/\/schemas.xmlsoap.org\/soap\/envelope\/" xmlns="urn:partner.soap.sforce.com"/)
  const sessionId = xmlText(res.text, 'sessionId')!
  const again = await soapLogin(sim.myDomainUrl('acme'), USER.username, PASSWORD)
  t.equal(xmlText(again.text, 'sessionId'), sessionId, 'SOAP login() hands the same user the same live session')
})

t.test('faults: exact envelopes, HTTP 500', async t => {
  const sim = await startAcme(t, { lockout: { maxAttempts: 0, durationSeconds: 1 } })
  const wrong = await soapLogin(sim.loginUrl, USER.username, 'wrong')
  t.equal(wrong.status, 500)
  t.match(wrong.headers.get('content-type'), /^text\/xml/)
  t.equal(wrong.text, INVALID_LOGIN)
  t.equal((await soapLogin(sim.loginUrl, 'ghost@acme.example', PASSWORD)).text, INVALID_LOGIN, 'an unknown user')

  const noToken = await soapLogin(sim.loginUrl, USER.username, USER.password)
  t.equal(xmlText(noToken.text, 'faultcode'), 'sf:LOGIN_MUST_USE_SECURITY_TOKEN')
  t.match(xmlText(noToken.text, 'faultstring'), /^LOGIN_MUST_USE_SECURITY_TOKEN: Invalid username, password, security token; or user locked out\. Are you at a new location\?/)

  const org = sim.org('acme')
  org.apiEnabled = false
  const apiOff = await soapLogin(sim.loginUrl, USER.username, PASSWORD)
  t.equal(apiOff.text, faultEnvelope('API_DISABLED_FOR_ORG', 'API is not enabled for this Organization or Partner', 'UnexpectedErrorFault'))
  org.apiEnabled = true
  const user = org.users.get(USER.username)!
  user.apiEnabled = false
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'faultcode'), 'sf:API_DISABLED_FOR_ORG', 'a profile without API Enabled')
  user.apiEnabled = true

  user.active = false
  t.equal((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, INVALID_LOGIN, 'an inactive user looks like a wrong password')
  user.active = true

  user.loginIpRanges = ['203.0.113.0/24']
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'faultcode'), 'sf:LOGIN_DURING_RESTRICTED_DOMAIN')
  user.loginIpRanges = undefined
  const hour = new Date().getUTCHours()
  user.loginHours = { startHour: (hour + 2) % 24, endHour: (hour + 3) % 24 }
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'faultcode'), 'sf:LOGIN_DURING_RESTRICTED_TIME')
  user.loginHours = undefined

  org.flows.soap = false
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'faultcode'), 'sf:INVALID_OPERATION')
  org.flows.soap = true

  org.loginRatePerHour = 0
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'faultcode'), 'sf:REQUEST_LIMIT_EXCEEDED')
  org.loginRatePerHour = 3600

  const conn = new jsforce.Connection({ loginUrl: sim.loginUrl, version: '62.0' })
  await t.rejects(conn.login(USER.username, 'wrong'), { message: 'INVALID_LOGIN: Invalid username, password, security token; or user locked out.' }, 'jsforce surfaces the faultstring')
})

t.test('lockout: N failures, then INVALID_LOGIN even with the right password, until the duration passes', async t => {
  const time = new TestTime()
  const sim = await startAcme(t, { lockout: { maxAttempts: 2, durationSeconds: 900 } }, [], time)
  await soapLogin(sim.loginUrl, USER.username, 'bad')
  await soapLogin(sim.loginUrl, USER.username, 'bad')
  const locked = await soapLogin(sim.loginUrl, USER.username, PASSWORD)
  t.equal(locked.text, INVALID_LOGIN)
  time.advance(900_000 - 1)
  t.equal((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, INVALID_LOGIN, 'still locked a millisecond before the duration ends')
  time.advance(1)
  t.equal((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).status, 200)
  t.same(sim.stats('acme').byUser[USER.username], { attempts: 5, failures: 4, successes: 1 })
})

t.test('an expired password: login succeeds with passwordExpired=true, API calls are refused', async t => {
  const sim = await startAcme(t)
  sim.org('acme').users.get(USER.username)!.passwordExpired = true
  const res = await soapLogin(sim.loginUrl, USER.username, PASSWORD)
  t.equal(res.status, 200)
  t.equal(xmlText(res.text, 'passwordExpired'), 'true')
  const query = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=SELECT+Id+FROM+Account`, xmlText(res.text, 'sessionId')!)
  t.equal(query.status, 403)
  t.same(query.json, [{
    message: 'The users password has expired, you must call SetPassword before attempting any other API operations',
    errorCode: 'INVALID_OPERATION_WITH_EXPIRED_PASSWORD',
  }])
  const conn = new jsforce.Connection({ loginUrl: sim.loginUrl, version: '62.0' })
  await t.rejects(conn.login(USER.username, PASSWORD), { message: /password has expired/ }, 'jsforce refuses the restricted session')
})

t.test('the org\'s password policy expires a password by itself: 90 days after the last change by default, never with Password Never Expires', async t => {
  const DAY = 86_400_000
  const time = new TestTime()
  const sim = await startAcme(t, {}, [], time)
  const user = sim.org('acme').users.get(USER.username)!
  time.advance(90 * DAY - 1)
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'passwordExpired'), 'false', 'the last millisecond of the 90 days')
  time.advance(1)
  const expired = await soapLogin(sim.loginUrl, USER.username, PASSWORD)
  t.equal(expired.status, 200)
  t.equal(xmlText(expired.text, 'passwordExpired'), 'true', '90 days after the last change')
  t.equal((await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/limits`, xmlText(expired.text, 'sessionId')!)).status, 403)

  user.permissions.PermissionsPasswordNeverExpires = true
  user.passwordExpired = false
  t.equal(xmlText((await soapLogin(sim.loginUrl, USER.username, PASSWORD)).text, 'passwordExpired'), 'false', 'Password Never Expires')

  const yearly = await startAcme(t, { passwordExpiresAfterDays: 365 }, [], time)
  t.equal(xmlText((await soapLogin(yearly.loginUrl, USER.username, PASSWORD)).text, 'passwordExpired'), 'false', 'the org\'s own period')
  const never = await startAcme(t, { passwordExpiresAfterDays: 0 }, [], time)
  time.advance(3650 * DAY)
  t.equal(xmlText((await soapLogin(never.loginUrl, USER.username, PASSWORD)).text, 'passwordExpired'), 'false', '"Never expires"')
})

t.test('My Domain SOAP login serves only its own org', async t => {
  const sim = await startAcme(t, {}, [{ key: 'globex', users: [{ username: 'api@globex.example', password: 'p', securityToken: 't' }] }])
  t.equal((await soapLogin(sim.myDomainUrl('globex'), USER.username, PASSWORD)).text, INVALID_LOGIN)
  const ok = await soapLogin(sim.loginUrl, 'api@globex.example', 'pt')
  t.equal(xmlText(ok.text, 'serverUrl')?.startsWith(sim.myDomainUrl('globex')), true, 'the login host routes to the user\'s org')
  t.equal(sim.stats('globex').attempts, 2)
})
