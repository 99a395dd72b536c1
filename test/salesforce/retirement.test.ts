import t, { type Test } from 'tap'
import {
  classifyOAuthError, classifyRestError, classifySoapFault, createLoginUrlPolicy, login,
  type ConnectionDefinition, type LoginOutcome,
} from '../../src/salesforce/index.ts'
import { soapEndpoint } from '../../src/salesforce/soap-login.ts'
import { flowSunsetTable } from '../../src/salesforce/flow-sunset.ts'
import { startSimulator, type SimOrgOptions, type Simulator } from '../../packages/simulator/src/index.ts'

/**
 * The faults of Salesforce's retirement of password logins, classified with hints that
 * point at the migration, word for word as projects hit them:
 * forcedotcom/wsc #363 (v65), OpenFn/adaptors #1715 (disabled by default),
 * SalesforceAIResearch/CRMArena #23 (Use Any API Auth), SoqlX #10 (UNSUPPORTED_API_VERSION).
 */

const USER = { username: 'integration@acme.example', password: 'Corr3ct-Horse-Battery', securityToken: 'TOKENacme0123456789' }
const APP = { clientId: '3MVG9acme.consumer.key', clientSecret: 'acme-consumer-secret-0123456789' }
const POLICY = createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] })
const MIGRATE = /jwt_bearer|JWT bearer/

t.test('SOAP retirement faults are classified with migration hints', async t => {
  const v65 = classifySoapFault({
    faultcode: 'sf:INVALID_OPERATION',
    faultstring: 'INVALID_OPERATION: The SOAP Login operation is not available in the API version specified (65.0). Refer to the documentation for supported versions.',
    exceptionCode: 'INVALID_OPERATION',
    exceptionMessage: 'The SOAP Login operation is not available in the API version specified (65.0). Refer to the documentation for supported versions.',
  }, 500)
  t.match(v65, { classification: 'api_version_retired', sfCode: 'INVALID_OPERATION', credentialFailure: false, retryable: false, hint: MIGRATE })
  t.match(v65.hint, /64\.0/, 'says SOAP login() exists only up to 64.0')

  const disabled = classifySoapFault({
    faultcode: 'sf:INVALID_OPERATION',
    faultstring: 'INVALID_OPERATION: SOAP API login() is disabled by default in this org. Contact the org administrator to enable SOAP API login().',
    exceptionCode: 'INVALID_OPERATION',
    exceptionMessage: 'SOAP API login() is disabled by default in this org. Contact the org administrator to enable SOAP API login().',
  }, 500)
  t.match(disabled, { classification: 'flow_not_enabled', hint: /Enable SOAP API login\(\)/ })
  t.match(disabled.hint, MIGRATE)

  const anyApiAuth = classifySoapFault({ faultcode: 'sf:INSUFFICIENT_ACCESS', faultstring: 'INSUFFICIENT_ACCESS: SOAP API login() requires the Use Any API Auth user permission.' }, 500)
  t.match(anyApiAuth, { classification: 'flow_not_enabled', sfCode: 'INSUFFICIENT_ACCESS', hint: /Use Any API Auth/ })
  t.match(anyApiAuth.hint, MIGRATE)

  const otherInsufficient = classifySoapFault({ faultcode: 'sf:INSUFFICIENT_ACCESS', faultstring: 'INSUFFICIENT_ACCESS: use of the Metadata API requires a user with the ModifyAllData or ModifyMetadata permissions' }, 500)
  t.equal(otherInsufficient.classification, 'unknown', 'an INSUFFICIENT_ACCESS about something else is not the login permission')

  const unsupported = classifySoapFault({ faultcode: 'sf:UNSUPPORTED_API_VERSION', faultstring: 'UNSUPPORTED_API_VERSION: Invalid Api version specified on URL' }, 500)
  t.match(unsupported, { classification: 'api_version_retired', hint: /apiVersion/ })
})

t.test('REST: HTTP 410 for a retired API version', async t => {
  const gone = classifyRestError([{ errorCode: 'GONE', message: 'The requested resource no longer exists' }], 410)
  t.match(gone, { classification: 'api_version_retired', httpStatus: 410, hint: /apiVersion/ })
  t.equal(classifyRestError('', 410).classification, 'api_version_retired', 'whatever the body')
  t.equal(classifyRestError([{ errorCode: 'UNSUPPORTED_API_VERSION', message: 'Invalid Api version specified on URL' }], 400).classification, 'api_version_retired')
})

t.test('after the sunset, an OAuth authentication failure on the retired flow names the retirement', async t => {
  const sim = await startSim(t, { flows: { oauthPassword: false } })
  const def: ConnectionDefinition = { flow: 'oauth_password', apiVersion: '62.0', sessionTimeoutSeconds: 7200, loginUrl: sim.loginUrl, ...USER, ...APP }
  const sunsets = flowSunsetTable()
  const before = await login(def, { timeoutMs: 5000, allowedLoginHosts: POLICY, flowSunsets: sunsets, now: () => Date.parse('2027-01-01T00:00:00Z') })
  const after = await login(def, { timeoutMs: 5000, allowedLoginHosts: POLICY, flowSunsets: sunsets, now: () => Date.parse('2027-02-21T00:00:00Z') })
  expectFailure(t, before, 'invalid_credentials')
  t.notMatch(failureOf(before).hint, /retired/, 'before the date the usual checklist')
  expectFailure(t, after, 'invalid_credentials')
  t.match(failureOf(after).hint, /retired the oauth_password flow on 2027-02-20.*jwt_bearer or client_credentials/)
  // a pure classification stays pure: no clock inside
  t.equal(classifyOAuthError({ error: 'invalid_grant', error_description: 'authentication failure' }, 400, 'oauth_password').classification, 'invalid_credentials')
})

t.test('the SOAP login version is capped at 64.0 whatever the REST version', async t => {
  t.equal(soapEndpoint('https://login.salesforce.com', '62.0'), 'https://login.salesforce.com/services/Soap/u/62.0')
  t.equal(soapEndpoint('https://login.salesforce.com', '66.0'), 'https://login.salesforce.com/services/Soap/u/64.0')
  t.equal(soapEndpoint('https://login.salesforce.com', 'v65.0'), 'https://login.salesforce.com/services/Soap/u/64.0')

  const sim = await startSim(t)
  const def: ConnectionDefinition = { flow: 'soap', apiVersion: '66.0', sessionTimeoutSeconds: 7200, loginUrl: sim.loginUrl, ...USER }
  const outcome = await login(def, { timeoutMs: 5000, allowedLoginHosts: POLICY })
  t.equal(outcome.ok, true, 'a soap connection on API 66.0 logs in')
  if (outcome.ok) {
    const check = await fetch(`${outcome.session.instanceUrl}/services/data/v66.0/limits`, { headers: { authorization: `Bearer ${outcome.session.accessToken}` } })
    t.equal(check.status, 200, 'and its session works with REST 66.0')
  }
})

t.test('the simulator answers each retirement fault as Salesforce does, and the broker classifies it', async t => {
  const soap = (sim: Simulator, apiVersion = '62.0'): ConnectionDefinition => ({ flow: 'soap', apiVersion, sessionTimeoutSeconds: 7200, loginUrl: sim.loginUrl, ...USER })
  const run = (def: ConnectionDefinition) => login(def, { timeoutMs: 5000, allowedLoginHosts: POLICY })

  const v65 = await startSim(t)
  const raw = await fetch(`${v65.loginUrl}/services/Soap/u/65.0`, { method: 'POST', headers: { 'content-type': 'text/xml', soapaction: 'login' }, body: `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>${USER.username}</n1:username><n1:password>${USER.password}${USER.securityToken}</n1:password></n1:login></env:Body></env:Envelope>` })
  t.equal(raw.status, 500)
  const text = await raw.text()
  t.match(text, /<faultcode>sf:INVALID_OPERATION<\/faultcode>/)
  t.match(text, /The SOAP Login operation is not available in the API version specified \(65\.0\)\. Refer to the documentation for supported versions\./)
  t.equal(v65.stats('acme').successes, 0, 'no session on 65.0')

  const off = await startSim(t, { flows: { soap: false } })
  const disabled = await run(soap(off))
  expectFailure(t, disabled, 'flow_not_enabled', { message: /SOAP API login\(\) is disabled by default in this org\. Contact the org administrator to enable SOAP API login\(\)\./ })

  const anyApi = await startSim(t, { soapLoginRequiresUseAnyApiAuth: true })
  expectFailure(t, await run(soap(anyApi)), 'flow_not_enabled', { sfCode: 'INSUFFICIENT_ACCESS', message: /Use Any API Auth/ })
  anyApi.org('acme').users.get(USER.username)!.permissions.PermissionsUseAnyApiAuth = true
  t.equal((await run(soap(anyApi))).ok, true, 'with the permission the login works')

  const retired = await startSim(t, { soapLoginRetired: true })
  expectFailure(t, await run(soap(retired)), 'api_version_retired', { sfCode: 'INVALID_OPERATION', message: /not available in the API version specified \(62\.0\)/ })

  const old = await startSim(t, { minApiVersion: 41 })
  expectFailure(t, await run(soap(old, '40.0')), 'api_version_retired', { sfCode: 'UNSUPPORTED_API_VERSION' })
  const session = await run(soap(old, '62.0'))
  t.equal(session.ok, true)
  if (session.ok) {
    const res = await fetch(`${session.session.instanceUrl}/services/data/v40.0/limits`, { headers: { authorization: `Bearer ${session.session.accessToken}` } })
    t.equal(res.status, 410, 'REST on a retired version: 410')
    t.equal(classifyRestError(await res.json(), res.status).classification, 'api_version_retired')
  }
})

async function startSim (t: Test, overrides: Partial<SimOrgOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ orgs: [{ key: 'acme', users: [{ ...USER }], connectedApps: [{ ...APP }], ...overrides }] })
  t.teardown(() => sim.close())
  return sim
}

function failureOf (outcome: LoginOutcome) {
  if (outcome.ok) throw new Error('expected a failure')
  return outcome.failure
}

function expectFailure (t: Test, outcome: LoginOutcome, classification: string, extra: Record<string, unknown> = {}): void {
  t.equal(outcome.ok, false, `fails as ${classification}`)
  if (outcome.ok) return
  t.match(outcome.failure, { classification, ...extra }, classification)
}
