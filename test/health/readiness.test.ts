import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { buildHealthApp, eventually, health, only, roundClock, roundsUntil, sharedRedis, throughSlots } from './health-helper.ts'
import { http } from '../support/http.ts'

const freshRedis = sharedRedis(t)
const DAY = 86_400_000
const REQUIRED = ['PermissionsApiEnabled', 'PermissionsModifyAllData', 'PermissionsCustomizeApplication']

/** An admin's profile edit in Salesforce Setup, through the simulator's control API. */
async function profileEdit (loginUrl: string, permissions: Record<string, boolean>): Promise<void> {
  const res = await fetch(`${loginUrl}/_sim/orgs/acme/users/${encodeURIComponent(ACME.username)}`, {
    method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ permissions }),
  })
  if (res.status !== 200) throw new Error(`profile edit failed: ${await res.text()}`)
}

t.test('a profile edit removing a required permission turns the connection warn at the next full check, naming it', async t => {
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, permissions: { PermissionsModifyAllData: true, PermissionsCustomizeApplication: true } }] })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials', { requiredPermissions: REQUIRED }), 0)
  const clock = roundClock()
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })

  await throughSlots(clock) // the first round
  const ready = only(await eventually(() => health(url, 'acme'), a => only(a).readiness !== undefined))
  t.equal(ready.status, 'ok')
  t.same(ready.readiness.missingPermissions, [])
  t.equal(ready.readiness.status, 'ok')

  await profileEdit(sim.loginUrl, { PermissionsModifyAllData: false })
  const warned = await roundsUntil(clock, url, 'acme', a => only(a).status === 'warn')
  const row = only(warned)
  t.equal(warned.status, 200, 'warn does not fail the health endpoint')
  t.equal(warned.json.status, 'warn', 'the overall status says so')
  t.equal(row.classification, 'ok', 'the login itself works')
  t.equal(row.checkKind, 'full')
  t.same(row.readiness.missingPermissions.map((m: any) => m.permission), ['PermissionsModifyAllData'])
  t.match(row.readiness.missingPermissions[0].grantIn, /profile.*permission set/)
  t.match(row.message, /lacks Modify All Data \(PermissionsModifyAllData\)/)
  t.match(row.hint, /profile or a permission set/)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.match(metrics, /sfb_connection_missing_permissions\{connection="acme"\} 1/)
  t.match(metrics, /sfb_connection_validation_status\{connection="acme"\} 0\.75/)

  await profileEdit(sim.loginUrl, { PermissionsModifyAllData: true })
  const fixed = await roundsUntil(clock, url, 'acme', a => only(a).status === 'ok')
  t.same(only(fixed).readiness.missingPermissions, [], 'granting it again clears the warning at the next full check')
})

t.test('a password 10 days from expiry shows the date and warns', async t => {
  const changed = Date.now() - 80 * DAY
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, lastPasswordChangeDate: changed }] })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password', { passwordExpiresAfterDays: 90 }), 0)
  const principals = testPrincipals(['acme'])
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, principals, env: { HEALTH_DETAILS: 'admin' } })
  const adminHealth = () => http(`${url}/health/salesforce?connection=acme`, { headers: bearer(principals.adminKey) })

  const row = only(await eventually(adminHealth, a => only(a).readiness !== undefined))
  const publicView = await health(url, 'acme')
  t.same(only(publicView), { connection: 'acme', status: 'warn' }, 'the public view shows the status, the dates are admin detail')
  const expiresAt = new Date(changed + 90 * DAY).toISOString()
  t.equal(row.status, 'warn')
  t.same(row.readiness.password, { neverExpires: false, lastChangedAt: new Date(changed).toISOString(), expiresAt, daysLeft: 10 })
  t.match(row.message, `the password expires on ${expiresAt.slice(0, 10)} (in 10 days)`)
  t.match(row.hint, /PATCH \/v1\/admin\/connections\/\{name\}\/credentials/)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.match(metrics, `sfb_connection_password_expiry_timestamp_seconds{connection="acme"} ${Math.round((changed + 90 * DAY) / 1000)}`)
})

t.test('a password that never expires, or is far from expiry, does not warn', async t => {
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, lastPasswordChangeDate: Date.now() - 80 * DAY, permissions: { PermissionsPasswordNeverExpires: true } }] })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap', { passwordExpiresAfterDays: 90 }), 0)
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, env: { PASSWORD_EXPIRY_WARN_DAYS: '5' } })
  const row = only(await eventually(() => health(url, 'acme'), a => only(a).readiness !== undefined))
  t.equal(row.status, 'ok')
  t.equal(row.readiness.password.neverExpires, true)
  t.notOk(row.readiness.password.expiresAt)
})

t.test('a full check costs one login and one API call, with or without readiness requirements', async t => {
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, permissions: { PermissionsModifyAllData: true } }] })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password', { requiredPermissions: REQUIRED, passwordExpiresAfterDays: 90 }), 0)
  await store.write('plain', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals(['acme', 'plain'])
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, principals, env: { SCHEDULER_ENABLED: 'false' } })
  const admin = bearer(principals.adminKey)

  for (const name of ['acme', 'plain']) {
    const logins = sim.stats('acme').attempts
    const calls = sim.org('acme').apiRequestsUsed
    const r = await http(`${url}/health/salesforce/${name}/check`, { method: 'POST', headers: admin })
    t.equal(r.status, 200)
    t.equal(r.json.checkKind, 'full')
    t.equal(sim.stats('acme').attempts - logins, 1, `${name}: one login`)
    t.equal(sim.org('acme').apiRequestsUsed - calls, 1, `${name}: one REST call against the org's daily allocation`)
    t.equal(r.json.apiUsage.used, sim.org('acme').apiRequestsUsed, `${name}: the usage the broker reports includes it`)
  }
  const acme = only(await health(url, 'acme'))
  t.equal(acme.status, 'warn')
  t.same(acme.readiness.missingPermissions.map((m: any) => m.permission), ['PermissionsCustomizeApplication'])
  t.notOk(only(await health(url, 'plain')).readiness, 'nothing declared, nothing read')

  // callers' session requests never trigger the check
  const calls = sim.org('acme').apiRequestsUsed
  for (let i = 0; i < 3; i++) {
    const s = await http(`${url}/v1/connections/acme/session`, { method: 'POST', headers: bearer(principals.billingKey) })
    t.equal(s.status, 200)
  }
  t.equal(sim.org('acme').apiRequestsUsed, calls, 'no readiness call per session request')
})

t.test('rights held beyond requiredPermissions warn by name in the admin view and count in sfb_connection_excess_permissions', async t => {
  const held = { PermissionsModifyAllData: true, PermissionsViewAllData: true, PermissionsAuthorApex: true, PermissionsManageUsers: true }
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, permissions: held }] })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials', { requiredPermissions: ['PermissionsApiEnabled', 'PermissionsModifyAllData'] }), 0)
  await store.write('undeclared', acmeDefinition(sim, 'oauth_password', { passwordExpiresAfterDays: 3650 }), 0)
  const principals = testPrincipals(['acme', 'undeclared'])
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, principals, env: { HEALTH_DETAILS: 'admin' } })
  const adminView = (name: string) => http(`${url}/health/salesforce?connection=${name}`, { headers: bearer(principals.adminKey) })
  const metrics = async () => (await fetch(`${url}/metrics`)).text()

  const row = only(await eventually(() => adminView('acme'), a => only(a).readiness !== undefined))
  t.equal(row.status, 'warn')
  t.equal(row.classification, 'ok', 'the login itself works')
  t.same(row.readiness.excessPermissions, [
    { permission: 'PermissionsViewAllData', label: 'View All Data' },
    { permission: 'PermissionsManageUsers', label: 'Manage Users' },
    { permission: 'PermissionsAuthorApex', label: 'Author Apex' },
  ], 'Modify All Data is declared, so not excess')
  t.same(row.readiness.missingPermissions, [])
  t.match(row.message, /holds rights the connection does not declare: View All Data \(PermissionsViewAllData\), Manage Users \(PermissionsManageUsers\), Author Apex \(PermissionsAuthorApex\)/)
  t.match(row.hint, /Least privilege: remove "View All Data", "Manage Users", "Author Apex"/)
  t.same(only(await health(url, 'acme')), { connection: 'acme', status: 'warn' }, 'the public view shows only the status')
  t.match(await metrics(), /sfb_connection_excess_permissions\{connection="acme"\} 3/)

  const undeclared = only(await eventually(() => adminView('undeclared'), a => only(a).readiness !== undefined))
  t.equal(undeclared.status, 'ok')
  t.notOk(undeclared.readiness.excessPermissions, 'without requiredPermissions the broker does not know what is excess')
  t.notMatch(await metrics(), /sfb_connection_excess_permissions\{connection="undeclared"\}/)

  await profileEdit(sim.loginUrl, { PermissionsViewAllData: false, PermissionsAuthorApex: false, PermissionsManageUsers: false })
  const fixed = only(await eventually(() => adminView('acme'), a => only(a).status === 'ok', 8000))
  t.same(fixed.readiness.excessPermissions, [], 'removing them clears the warning at the next full check')
  t.match(await metrics(), /sfb_connection_excess_permissions\{connection="acme"\} 0/)
})

t.test('a login refused for its address names the settings and the address Salesforce last reported', async t => {
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, permissions: { PermissionsManageUsers: true } }] })])
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials', { requiredPermissions: ['PermissionsApiEnabled'] }), 0)
  const clock = roundClock()
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })
  await throughSlots(clock) // the first round
  const ready = only(await eventually(() => health(url, 'acme'), a => only(a).readiness !== undefined))
  t.equal(ready.readiness.lastLogin.sourceIp, '127.0.0.1')

  sim.org('acme').users.get(ACME.username)!.loginIpRanges = ['198.51.100.0/24']
  sim.expireSessions('acme')
  const refused = only(await roundsUntil(clock, url, 'acme', a => only(a).classification === 'ip_or_hours_restricted'))
  t.match(refused.hint, /Login IP Ranges.*Login Hours.*Network Access/)
  t.match(refused.hint, /from 127\.0\.0\.1 at /)
})
