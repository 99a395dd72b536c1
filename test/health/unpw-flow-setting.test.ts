import t from 'tap'
import { acmeBroker } from '../support/admin-rig.ts'
import { ACME, acmeDefinition, acmeOrg, startSim } from '../helper.ts'
import { eventually } from './health-helper.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'

const USER = (permissions: Record<string, boolean>) => [{ username: ACME.username, password: ACME.password, securityToken: ACME.securityToken, permissions }]

async function blockFlow (sim: Simulator): Promise<void> {
  // Setup > OAuth and OpenID Connect Settings > "Allow OAuth Username-Password Flows" off
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blockOAuthUnPwFlow: true }) })
  if (!res.ok) throw new Error(await res.text())
}

t.test('the org blocks the username-password flow: health warns while the session still works, before any login fails', async t => {
  const sim = await startSim(t, [acmeOrg({ users: USER({ PermissionsModifyMetadata: true }) })])
  // scheduled rounds every second, no full login due for an hour: only the cached session is used
  const { session, health, admin } = await acmeBroker(t, acmeDefinition(sim, 'oauth_password'), {
    SCHEDULER_ENABLED: 'true', VALIDATION_INTERVAL_SECONDS: '1', FULL_VALIDATION_INTERVAL_SECONDS: '3600', VALIDATION_MAX_PER_SECOND: '50',
  })
  t.equal((await session()).statusCode, 200)
  const allowed = await eventually(health, h => h.usernamePasswordFlow !== undefined)
  t.equal(allowed.usernamePasswordFlow.state, 'allowed', 'read through the cached session')
  t.equal(allowed.status, 'ok')
  t.notOk(allowed.drift)

  await blockFlow(sim)
  const before = sim.stats('acme')
  const warned = await eventually(health, h => h.usernamePasswordFlow?.state === 'blocked')
  t.equal(warned.status, 'warn')
  t.equal(warned.checkKind, 'cheap', 'no login was needed to see it')
  t.match(warned.drift, [{ kind: 'username_password_flow_blocked' }])
  t.match(warned.message, /blocks the OAuth username-password flow/)
  t.match(warned.hint, /OAuth and OpenID Connect Settings > "Allow OAuth Username-Password Flows"/)
  t.match(warned.hint, /jwt_bearer or client_credentials/)
  t.equal((await session()).statusCode, 200, 'callers are still served by the session in hand')
  t.equal(sim.stats('acme').attempts - before.attempts, 0, 'no login was sent, so none failed')

  // the full check that follows is refused as Salesforce refuses it, and now says why
  const checked = (await admin('POST', '/health/salesforce/acme/check')).json()
  t.equal(checked.status, 'failing')
  t.equal(sim.stats('acme').failures - before.failures, 1, 'Salesforce counted the refused login')
  const failing = await health()
  t.equal(failing.classification, 'invalid_credentials')
  t.match(failing.message, /authentication failure — the org blocks the OAuth username-password flow/)
  t.match(failing.hint, /Allow OAuth Username-Password Flows/)
})

t.test('without the right to read it: unknown, and why; no warning', async t => {
  const sim = await startSim(t, [acmeOrg({ users: USER({}) })])
  const { admin, health } = await acmeBroker(t, acmeDefinition(sim, 'oauth_password'))
  const before = sim.stats('acme')
  t.equal((await admin('POST', '/health/salesforce/acme/check')).statusCode, 200)
  t.equal(sim.stats('acme').attempts - before.attempts, 1, 'the check logged in once, the read needed no login')
  const h = await health()
  t.equal(h.status, 'ok')
  t.equal(h.usernamePasswordFlow.state, 'unknown')
  t.match(h.usernamePasswordFlow.reason, /no right to read it.*Modify Metadata Through Metadata API Functions.*Modify All Data/)
  t.notOk(h.drift)
})

t.test('Modify All Data reads it too; a SOAP connection is not concerned (SOAP login() is not an OAuth flow)', async t => {
  const sim = await startSim(t, [acmeOrg({ users: USER({ PermissionsModifyAllData: true }), blockOAuthUnPwFlow: true })])
  const { admin, health, session } = await acmeBroker(t, acmeDefinition(sim, 'soap'))
  t.equal((await session()).statusCode, 200, 'SOAP login() works with the OAuth flow blocked')
  t.equal((await admin('POST', '/health/salesforce/acme/check')).json().status, 'ok')
  const h = await health()
  t.notOk(h.usernamePasswordFlow, 'not read for SOAP')
  t.notOk(h.drift)
  // the same org through an oauth_password connection cannot even be stored: its validating login is refused
  const refused = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))
  t.equal(refused.statusCode, 422)
})
