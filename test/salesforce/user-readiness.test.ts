import t, { type Test } from 'tap'
import { createLoginUrlPolicy, login, type ConnectionDefinition, type SalesforceSession } from '../../src/salesforce/index.ts'
import { readinessRequirements, readUserReadiness } from '../../src/salesforce/user-readiness.ts'
import { startSimulator, type SimUser, type Simulator } from '../../src/simulator/index.ts'

const USER = { username: 'integration@acme.example', password: 'Corr3ct-Horse-Battery', securityToken: 'TOKENacme0123456789' }
const POLICY = createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] })
const OPTS = { apiVersion: '62.0', timeoutMs: 3000 }
const DAY = 86_400_000

async function sim (t: Test, user: Partial<SimUser> = {}): Promise<Simulator> {
  const s = await startSimulator({ orgs: [{ key: 'acme', users: [{ ...USER, ...user }] }] })
  t.teardown(() => s.close())
  return s
}

function definition (s: Simulator, extra: Partial<ConnectionDefinition> = {}): ConnectionDefinition {
  return { flow: 'soap', loginUrl: s.loginUrl, apiVersion: '62.0', sessionTimeoutSeconds: 7200, ...USER, ...extra }
}

async function session (s: Simulator, def: ConnectionDefinition): Promise<SalesforceSession> {
  const outcome = await login(def, { timeoutMs: 3000, allowedLoginHosts: POLICY })
  if (!outcome.ok) throw new Error(`login failed: ${outcome.failure.classification}`)
  return outcome.session
}

t.test('one REST call reads permissions, the password change date and the login source, and reports API usage', async t => {
  const changed = Date.now() - 80 * DAY
  const s = await sim(t, { permissions: { PermissionsModifyAllData: true, PermissionsManageUsers: true }, lastPasswordChangeDate: changed })
  const def = definition(s, { requiredPermissions: ['PermissionsApiEnabled', 'PermissionsModifyAllData', 'PermissionsCustomizeApplication'], passwordExpiresAfterDays: 90 })
  const live = await session(s, def)
  const before = s.org('acme').apiRequestsUsed
  const read = await readUserReadiness(live, readinessRequirements(def)!, OPTS)
  t.equal(s.org('acme').apiRequestsUsed, before + 1, 'exactly one API call')
  if (!read.ok) throw new Error(read.failure.message)
  t.same(read.facts.permissions, { PermissionsApiEnabled: true, PermissionsModifyAllData: true, PermissionsCustomizeApplication: false })
  t.equal(read.facts.passwordNeverExpires, false)
  t.equal(read.facts.lastPasswordChangeAt, changed)
  t.match(read.facts.lastLogin, { sourceIp: '127.0.0.1' })
  t.same(read.apiUsage, { used: before + 1, max: 15000 })
})

t.test('what Salesforce refuses stays unknown and says why', async t => {
  const s = await sim(t, { hiddenUserFields: ['LastPasswordChangeDate'] })
  const def = definition(s, { requiredPermissions: ['PermissionsModifyAllDta'], passwordExpiresAfterDays: 90 })
  const read = await readUserReadiness(await session(s, def), readinessRequirements(def)!, OPTS)
  if (!read.ok) throw new Error(read.failure.message)
  t.equal(read.facts.unknownPermission, 'PermissionsModifyAllDta')
  t.equal(read.facts.lastPasswordChangeAt, undefined)
  t.equal(read.facts.lastLogin, undefined, 'LoginHistory needs Manage Users: no address, none guessed')
  t.match(read.facts.unreadable, [/^UserPermissionAccess: INVALID_FIELD: No such column 'PermissionsModifyAllDta'/, /^User\.LastPasswordChangeDate: INVALID_FIELD/])
})

t.test('a dead session is classified like any REST call', async t => {
  const s = await sim(t)
  const def = definition(s, { requiredPermissions: ['PermissionsApiEnabled'] })
  const live = await session(s, def)
  s.expireSessions('acme')
  const read = await readUserReadiness(live, readinessRequirements(def)!, OPTS)
  t.equal(read.ok, false)
  if (!read.ok) t.equal(read.failure.classification, 'session_invalid')
})
