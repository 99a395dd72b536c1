import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, KEYS, startSim } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { eventually } from '../health/health-helper.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'

const DAY = 86_400_000
const APP_ID = 'acme_integration_eca'
const GLOBEX_KEY = '3MVG9globex.consumer.key'

/** acme: an External Client App whose user may stage consumer secrets; globex: a JWT bearer app. */
function orgs () {
  const acme = acmeOrg()
  return [
    { ...acme, users: [{ ...acme.users![0], permissions: { PermissionsExternalClientAppDeveloper: true, PermissionsViewClientSecret: true } }], connectedApps: [{ ...acme.connectedApps![0], appId: APP_ID, consumerSecretsViaRestApi: true }] },
    acmeOrg({ key: 'globex', connectedApps: [{ clientId: GLOBEX_KEY, clientSecret: 'globex-secret-0123456789', certificatePem: KEYS.certificatePem }] }),
  ]
}

async function control (sim: Simulator, method: 'GET' | 'PUT', path: string, body?: object): Promise<any> {
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

t.test('the validation round starts both scheduled rotations when the calendar says so; callers never see a failure', async t => {
  const sim = await startSim(t, orgs())
  const principals = testPrincipals(['acme', 'globex'], 1_000_000)
  const calendar = { offsetMs: 0 }
  const { app } = await buildTestApp(t, {
    principals,
    env: { SCHEDULER_ENABLED: 'true', VALIDATION_INTERVAL_SECONDS: '1', FULL_VALIDATION_INTERVAL_SECONDS: '3600', VALIDATION_MAX_PER_SECOND: '50', CERT_ROTATION_START_DAYS: '14', REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' },
    overrides: { rotationCalendar: () => Date.now() + calendar.offsetMs },
  })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (name: string, rejectedToken?: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey), ...(rejectedToken ? { payload: { rejectedToken } } : {}) })

  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await admin('PUT', '/v1/admin/connections/acme/consumer-rotation/policy', { appId: APP_ID, rotateEveryDays: 30 })).statusCode, 200)
  const globex = acmeDefinition(sim, 'jwt_bearer', { loginUrl: sim.myDomainUrl('globex'), clientId: GLOBEX_KEY })
  t.equal((await admin('PUT', '/v1/admin/connections/globex', globex)).statusCode, 201)
  // a certificate the broker made (JWT_CERT_VALIDITY_DAYS, 730), so its expiry is known: a first rotation by hand
  const first = (await admin('POST', '/v1/admin/connections/globex/certificate-rotation')).json()
  await control(sim, 'PUT', `globex/apps/${GLOBEX_KEY}/certificate`, { certificatePem: first.certificate.pem })
  t.equal((await admin('POST', '/v1/admin/connections/globex/certificate-rotation/validate')).json().ok, true)
  t.equal((await admin('POST', '/v1/admin/connections/globex/certificate-rotation/complete')).statusCode, 200)

  // callers as the SDK behaves: ask, use the session at Salesforce, report it when refused
  const statuses: number[] = []
  const run = { on: true }
  const workers = ['acme', 'globex', 'acme', 'globex'].map(async name => {
    let dead: string | undefined
    while (run.on) {
      const answer = await session(name, dead)
      statuses.push(answer.statusCode)
      dead = undefined
      if (answer.statusCode !== 200) continue
      const { accessToken, instanceUrl } = answer.json()
      const used = await fetch(`${instanceUrl}/services/data/v62.0/limits`, { headers: bearer(accessToken) })
      await used.arrayBuffer()
      if (used.status === 401) dead = accessToken
    }
  })

  // 723 days on: the consumer secret is 30 days old and more, the certificate expires within 14 days
  calendar.offsetMs = 723 * DAY
  // the policy remembers a rotation once every step is done: switched, promoted, the old pair deleted
  const policy = await eventually(async () => (await admin('GET', '/v1/admin/connections/acme/consumer-rotation/policy')).json(), p => p.lastRotatedAt !== undefined, 30_000)
  t.ok(Date.parse(policy.lastRotatedAt) > Date.now() + 700 * DAY, 'the scheduled consumer rotation ran to its end, remembered on the policy\'s calendar (not due again)')
  const rotated = (await admin('GET', '/v1/admin/connections/acme')).json().clientId
  t.not(rotated, ACME.clientId, 'the connection switched to a new key')
  const credentials = await control(sim, 'GET', `acme/apps/${ACME.clientId}/credentials`)
  t.equal(credentials.consumerKey, rotated, 'staged, validated, promoted at Salesforce')
  t.same(credentials.stagedCredentials, [], 'and the old pair deleted')
  const pending = await eventually(async () => admin('GET', '/v1/admin/connections/globex/certificate-rotation'), r => r.statusCode === 200, 30_000)
  t.not(pending.json().certificate.fingerprint256, first.certificate.fingerprint256, 'a new key and certificate wait for the upload')

  // the admin's one step: the upload; the next refused login completes the rotation
  await control(sim, 'PUT', `globex/apps/${GLOBEX_KEY}/certificate`, { certificatePem: pending.json().certificate.pem })
  sim.expireSessions('globex')
  await eventually(async () => (await admin('GET', '/v1/admin/connections/globex/certificate-rotation')).statusCode, s => s === 404, 30_000)
  t.equal((await admin('GET', '/v1/admin/connections/globex/certificate-rotation')).statusCode, 404, 'completed by a login with the new key')

  run.on = false
  await Promise.all(workers)
  t.ok(statuses.length > 20, `callers kept asking (${statuses.length} session requests)`)
  t.same([...new Set(statuses)], [200], 'no session request failed')
  const audit = (await admin('GET', '/v1/admin/audit')).json().events as Array<{ action: string, actor: string, connection: string }>
  t.equal(audit.filter(e => e.connection === 'acme' && e.action === 'consumer_rotation.complete' && e.actor === 'scheduler').length, 1, 'one consumer rotation, by the scheduler')
  t.ok(audit.some(e => e.connection === 'globex' && e.action === 'migration.start' && e.actor === 'sf-broker'), 'the certificate rotation: started by the broker')
})
