import t, { type Test } from 'tap'
import { createLoginUrlPolicy, login, type ConnectionDefinition, type SalesforceSession } from '../../src/salesforce/index.ts'
import { readinessRequirements, readUserReadiness } from '../../src/salesforce/user-readiness.ts'
import { startSimulator, type SimUser, type Simulator } from '../../packages/simulator/src/index.ts'

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

t.test('a permission declared in other letter case is read as Salesforce answers it', async t => {
  // SOQL takes field names in any case and answers them as the describe names them
  // (SOAP API Developer Guide, "Queries and the Partner WSDL"): "…Permissionsets", not "…PermissionSets"
  const s = await sim(t, { permissions: { PermissionsManageProfilesPermissionsets: true, PermissionsPasswordNeverExpires: true } })
  const def = definition(s, { requiredPermissions: ['PermissionsManageProfilesPermissionSets', 'PermissionsAPIEnabled'], passwordExpiresAfterDays: 90 })
  const read = await readUserReadiness(await session(s, def), readinessRequirements(def)!, OPTS)
  if (!read.ok) throw new Error(read.failure.message)
  t.same(read.facts.permissions, { PermissionsManageProfilesPermissionSets: true, PermissionsAPIEnabled: true }, 'held, as Salesforce says')
  t.equal(read.facts.passwordNeverExpires, true)
  t.same(read.facts.excessPermissions, [], 'the declared right is not excess either')
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

t.test('query errors that echo the access token come back scrubbed', async t => {
  const { createServer } = await import('node:http')
  const token = '00Dxx0000001gPL!AQ4AQ+secret/token=' // '+', '/' and '=' so encoded forms differ from the raw one
  // a composite answer of 200 whose sub-requests failed with the request echoed back, as a proxy or a buggy host might
  const server = createServer((req, res) => {
    const auth = String(req.headers.authorization)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({
      compositeResponse: [
        { referenceId: 'permissions', httpStatusCode: 400, body: [{ errorCode: 'MALFORMED_QUERY', message: `bad request with ${auth}` }] },
        { referenceId: 'privileges', httpStatusCode: 400, body: [{ errorCode: 'MALFORMED_QUERY', message: `again ${token}` }] },
        { referenceId: 'user', httpStatusCode: 400, body: [{ errorCode: 'MALFORMED_QUERY', message: `token ${encodeURIComponent(token)}` }] },
      ],
    }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const read = await readUserReadiness({ accessToken: token, instanceUrl: `http://127.0.0.1:${port}`, userId: '005000000000001AAA' },
    { requiredPermissions: ['PermissionsApiEnabled'], passwordExpiresAfterDays: 90 }, OPTS)
  if (!read.ok) throw new Error(read.failure.message)
  t.equal(read.facts.unreadable.length, 3)
  const text = read.facts.unreadable.join('\n')
  t.notOk(text.includes(token), 'no raw token')
  t.notOk(text.includes(encodeURIComponent(token)), 'no percent-encoded token')
  t.match(text, /\[redacted\]/)
})
