import t from 'tap'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

const ADMIN = '/v1/admin/connections'
const DAY = 86_400_000
const REQUIRED = ['PermissionsApiEnabled', 'PermissionsModifyAllData', 'PermissionsCustomizeApplication', 'PermissionsManageProfilesPermissionsets']

async function setup (t: Parameters<typeof startSim>[0], user: Record<string, unknown> = {}) {
  const sim = await startSim(t, [acmeOrg({ users: [{ ...ACME, ...user }] })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'PUT' | 'POST' | 'GET', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { sim, store, admin }
}

t.test('validating a new connection lists the permissions the user lacks and where to grant them (422); nothing stored', async t => {
  const { sim, store, admin } = await setup(t, { permissions: { PermissionsModifyAllData: true } })
  const definition = acmeDefinition(sim, 'client_credentials', { requiredPermissions: REQUIRED })

  const checked = await admin('POST', `${ADMIN}/acme/validate`, definition)
  t.equal(checked.statusCode, 422)
  t.equal(checked.headers['content-type'], 'application/problem+json; charset=utf-8')
  const problem = checked.json()
  t.equal(problem.type, 'urn:sf-broker:problem:permissions_missing')
  t.same(problem.missingPermissions.map((m: any) => m.permission), ['PermissionsCustomizeApplication', 'PermissionsManageProfilesPermissionsets'])
  t.match(problem.missingPermissions[0], { label: 'Customize Application', grantIn: /profile.*permission set/ })
  t.match(problem.detail, /Customize Application.*Manage Profiles and Permission Sets/)

  const created = await admin('PUT', `${ADMIN}/acme`, definition)
  t.equal(created.statusCode, 422)
  t.equal(created.json().code, 'permissions_missing')
  t.equal(await store.read('acme'), null, 'a connection whose user is not ready is not stored')
  const audit = await admin('GET', '/v1/admin/audit')
  t.equal(audit.statusCode, 200)
  t.ok(audit.json().events.some((e: any) => e.action === 'connection.create' && e.outcome === 'rejected' && e.classification === 'permissions_missing'), 'audited as a rejection')
})

t.test('a misspelled permission name is answered as Salesforce answered it', async t => {
  const { sim, admin } = await setup(t)
  const res = await admin('POST', `${ADMIN}/acme/validate`, acmeDefinition(sim, 'client_credentials', { requiredPermissions: ['PermissionsModifyAllDta'] }))
  t.equal(res.statusCode, 422)
  t.equal(res.json().unknownPermission, 'PermissionsModifyAllDta')
  t.match(res.json().detail, /knows no permission PermissionsModifyAllDta/)
})

t.test('a ready user validates and is stored; the declarations come back as metadata, a password expiry as a warning', async t => {
  const { sim, admin } = await setup(t, { permissions: { PermissionsModifyAllData: true, PermissionsCustomizeApplication: true, PermissionsManageProfilesPermissionsets: true }, lastPasswordChangeDate: Date.now() - 85 * DAY })
  const definition = acmeDefinition(sim, 'oauth_password', { requiredPermissions: REQUIRED, passwordExpiresAfterDays: 90 })
  const checked = await admin('POST', `${ADMIN}/acme/validate`, definition)
  t.equal(checked.statusCode, 200)
  t.match(checked.json(), { ok: true, classification: 'ok' })
  t.match(checked.json().warnings, [/the password expires on .* \(in 5 days\)/])
  const created = await admin('PUT', `${ADMIN}/acme`, definition)
  t.equal(created.statusCode, 201)
  t.match(created.json(), { requiredPermissions: REQUIRED, passwordExpiresAfterDays: 90 })
})

t.test('rights held beyond the declared ones are a warning of the validation, never a refusal', async t => {
  const { sim, admin } = await setup(t, { permissions: { PermissionsModifyAllData: true, PermissionsViewAllData: true } })
  const checked = await admin('POST', `${ADMIN}/acme/validate`, acmeDefinition(sim, 'client_credentials', { requiredPermissions: ['PermissionsApiEnabled', 'PermissionsModifyAllData'] }))
  t.equal(checked.statusCode, 200)
  t.match(checked.json(), { ok: true, warnings: [/holds rights the connection does not declare: View All Data \(PermissionsViewAllData\)/] })
})
