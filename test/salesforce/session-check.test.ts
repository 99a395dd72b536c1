import { createServer } from 'node:http'
import t, { type Test } from 'tap'
import {
  checkSession, createLoginUrlPolicy, login, revokeSession, type ConnectionDefinition, type SalesforceSession,
} from '../../src/salesforce/index.ts'
import { usageFromHeader, usageFromLimits } from '../../src/salesforce/session-check.ts'
import { startSimulator, type Simulator } from '../../packages/simulator/src/index.ts'

const USER = { username: 'integration@acme.example', password: 'Corr3ct-Horse-Battery', securityToken: 'TOKENacme0123456789' }
const APP = { clientId: '3MVG9acme.consumer.key', clientSecret: 'acme-consumer-secret-0123456789', clientCredentialsUser: USER.username }
const POLICY = createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] })
const CHECK = { apiVersion: '62.0', timeoutMs: 3000 }

async function sim (t: Test, apiRequestLimit = 15000): Promise<Simulator> {
  const s = await startSimulator({ orgs: [{ key: 'acme', users: [USER], connectedApps: [APP], apiRequestLimit }] })
  t.teardown(() => s.close())
  return s
}

async function session (t: Test, s: Simulator, flow: 'soap' | 'client_credentials' = 'client_credentials'): Promise<SalesforceSession> {
  const def: ConnectionDefinition = flow === 'soap'
    ? { flow, loginUrl: s.loginUrl, apiVersion: '62.0', sessionTimeoutSeconds: 7200, ...USER }
    : { flow, loginUrl: s.myDomainUrl('acme'), apiVersion: '62.0', sessionTimeoutSeconds: 7200, clientId: APP.clientId, clientSecret: APP.clientSecret }
  const outcome = await login(def, { timeoutMs: 3000, allowedLoginHosts: POLICY })
  if (!outcome.ok) throw new Error(`login failed: ${outcome.failure.classification}`)
  return outcome.session
}

t.test('a live session checks ok and reports the daily API usage', async t => {
  const s = await sim(t)
  const live = await session(t, s)
  const first = await checkSession(live, CHECK)
  t.match(first, { ok: true, apiUsage: { max: 15000 } })
  const second = await checkSession(live, CHECK)
  t.ok(first.ok && second.ok && first.apiUsage && second.apiUsage && second.apiUsage.used === first.apiUsage.used + 1,
    'each check is one API request')
  t.match(await checkSession(await session(t, s, 'soap'), { ...CHECK, apiVersion: 'v62.0' }), { ok: true })
})

t.test('an expired session is session_invalid', async t => {
  const s = await sim(t)
  const live = await session(t, s)
  s.expireSessions('acme')
  const outcome = await checkSession(live, CHECK)
  t.match(outcome, { ok: false, failure: { classification: 'session_invalid', sfCode: 'INVALID_SESSION_ID', httpStatus: 401, retryable: false, credentialFailure: false } })
})

t.test('revokeSession ends the session at Salesforce', async t => {
  const s = await sim(t)
  const live = await session(t, s)
  t.equal(await revokeSession(live, { timeoutMs: 3000 }), true)
  t.match(await checkSession(live, CHECK), { ok: false, failure: { classification: 'session_invalid' } })
  t.equal(await revokeSession(live, { timeoutMs: 3000 }), false, 'a second revoke is refused')
  const soap = await session(t, s, 'soap')
  t.equal(await revokeSession(soap, { timeoutMs: 3000 }), true, 'SOAP session ids are revocable too')
})

t.test('org-level refusals of a live session', async t => {
  const s = await sim(t, 3)
  const live = await session(t, s)
  s.org('acme').apiRequestsUsed = 3
  t.match(await checkSession(live, CHECK), { ok: false, failure: { classification: 'api_limit_exceeded', retryable: true, sfCode: 'REQUEST_LIMIT_EXCEEDED' } })
  s.org('acme').apiRequestsUsed = 0
  s.org('acme').apiEnabled = false
  t.match(await checkSession(live, CHECK), { ok: false, failure: { classification: 'api_disabled', sfCode: 'API_DISABLED_FOR_ORG' } })
})

t.test('unreachable and slow instances', async t => {
  const s = await sim(t)
  const live = await session(t, s)
  s.setDown(true)
  t.match(await checkSession(live, CHECK), { ok: false, failure: { classification: 'unreachable', retryable: true } })
  t.equal(await revokeSession(live, { timeoutMs: 1000 }), false)
  s.setDown(false)

  const hung = createServer(() => { /* never answers */ })
  await new Promise<void>(resolve => hung.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hung.closeAllConnections(); hung.close() })
  const slow = { ...live, instanceUrl: `http://127.0.0.1:${(hung.address() as { port: number }).port}` }
  const started = Date.now()
  t.match(await checkSession(slow, { ...CHECK, timeoutMs: 200 }), { ok: false, failure: { classification: 'unreachable', message: /200 ms/ } })
  t.ok(Date.now() - started < 2000, 'gave up on time')
  t.equal(await revokeSession(slow, { timeoutMs: 200 }), false)
})

t.test('API usage from the limits body or the Sforce-Limit-Info header', async t => {
  t.same(usageFromLimits({ DailyApiRequests: { Max: 15000, Remaining: 14990 } }), { used: 10, max: 15000 })
  t.equal(usageFromLimits({}), undefined)
  t.equal(usageFromLimits(undefined), undefined)
  t.same(usageFromHeader('api-usage=25/15000'), { used: 25, max: 15000 })
  t.same(usageFromHeader('per-app-api-usage=3/100(appName=x), api-usage=7/5000'), { used: 7, max: 5000 })
  t.equal(usageFromHeader(null), undefined)
})
