import t from 'tap'
import { evaluateReadiness, loginRestrictionHint, readinessHint, readinessMessage } from '../../src/salesforce/readiness-evaluation.ts'
import { parseComposite, parseSfDateTime, readinessQueries, readinessRequirements } from '../../src/salesforce/user-readiness.ts'

const DAY = 86_400_000
const NOW = Date.parse('2026-11-30T12:00:00.000Z')
const opts = { now: NOW, warnDays: 14 }

t.test('requirements: nothing declared means no check; the expiry period counts only for password flows', async t => {
  t.equal(readinessRequirements({ flow: 'jwt_bearer' }), null)
  t.equal(readinessRequirements({ flow: 'jwt_bearer', passwordExpiresAfterDays: 90 }), null)
  t.same(readinessRequirements({ flow: 'soap', passwordExpiresAfterDays: 90 }), { requiredPermissions: [], passwordExpiresAfterDays: 90 })
  t.same(readinessRequirements({ flow: 'client_credentials', requiredPermissions: ['PermissionsApiEnabled', 'PermissionsApiEnabled'] }), { requiredPermissions: ['PermissionsApiEnabled'] })
})

t.test('queries: one UserPermissionAccess query; the User query only for password expiry; ids and names are checked', async t => {
  const id = '005Dn000001AbCdEFG'
  const q = readinessQueries({ requiredPermissions: ['PermissionsModifyAllData'], passwordExpiresAfterDays: 90 }, id)
  t.same(q.map(x => x.soql), [
    'SELECT PermissionsModifyAllData, PermissionsPasswordNeverExpires FROM UserPermissionAccess',
    'SELECT PermissionsViewAllData, PermissionsManageUsers, PermissionsAuthorApex, PermissionsCustomizeApplication, PermissionsManageProfilesPermissionsets, PermissionsViewAllUsers, PermissionsBulkApiHardDelete FROM UserPermissionAccess',
    `SELECT LastPasswordChangeDate FROM User WHERE Id = '${id}'`,
    `SELECT LoginTime, SourceIp FROM LoginHistory WHERE UserId = '${id}' AND Status = 'Success' ORDER BY LoginTime DESC LIMIT 1`,
  ])
  t.same(readinessQueries({ requiredPermissions: ['PermissionsApiEnabled'] }, id).map(x => x.referenceId), ['permissions', 'privileges', 'loginHistory'])
  t.same(readinessQueries({ requiredPermissions: [], passwordExpiresAfterDays: 90 }, id).map(x => x.referenceId), ['permissions', 'user', 'loginHistory'], 'no requiredPermissions: nothing to compare privileges with')
  t.throws(() => readinessQueries({ requiredPermissions: ['PermissionsX FROM User --'] }, id), /not a UserPermissionAccess field/)
  t.throws(() => readinessQueries({ requiredPermissions: ['PermissionsApiEnabled'] }, "005' OR Id != '"), /user id/)
})

t.test('a missing permission is named with where to grant it', async t => {
  const r = evaluateReadiness({ permissions: { PermissionsApiEnabled: true, PermissionsModifyAllData: false }, unreadable: [] }, { requiredPermissions: ['PermissionsApiEnabled', 'PermissionsModifyAllData'] }, opts)
  t.equal(r.status, 'warn')
  t.same(r.missingPermissions.map(m => [m.permission, m.label]), [['PermissionsModifyAllData', 'Modify All Data']])
  t.match(r.missingPermissions[0].grantIn, /profile.*permission set/)
  t.match(readinessMessage(r), /lacks Modify All Data \(PermissionsModifyAllData\)/)
  t.match(readinessHint(r), /profile or a permission set/)
  const all = evaluateReadiness({ permissions: { PermissionsApiEnabled: true }, unreadable: [] }, { requiredPermissions: ['PermissionsApiEnabled'] }, opts)
  t.same([all.status, all.findings], ['ok', []])
})

t.test('privileged rights held beyond requiredPermissions are excess: named, warned, with what to do', async t => {
  const required = { requiredPermissions: ['PermissionsApiEnabled', 'PermissionsModifyAllData'] }
  const facts = parseComposite({
    compositeResponse: [
      { body: { totalSize: 1, done: true, records: [{ PermissionsApiEnabled: true, PermissionsModifyAllData: true }] }, httpStatusCode: 200, referenceId: 'permissions' },
      { body: { totalSize: 1, done: true, records: [{ PermissionsViewAllData: true, PermissionsManageUsers: false, PermissionsAuthorApex: true }] }, httpStatusCode: 200, referenceId: 'privileges' },
    ],
  }, required)
  t.same(facts.excessPermissions, ['PermissionsViewAllData', 'PermissionsAuthorApex'], 'a declared right (Modify All Data) is never excess')
  const r = evaluateReadiness(facts, required, opts)
  t.equal(r.status, 'warn')
  t.same(r.excessPermissions, [{ permission: 'PermissionsViewAllData', label: 'View All Data' }, { permission: 'PermissionsAuthorApex', label: 'Author Apex' }])
  t.same(r.missingPermissions, [])
  t.match(readinessMessage(r), /holds rights the connection does not declare: View All Data \(PermissionsViewAllData\), Author Apex \(PermissionsAuthorApex\)/)
  t.match(readinessHint(r), /remove "View All Data", "Author Apex" from the user's profile and permission sets.*or add them to requiredPermissions/)

  const none = evaluateReadiness({ ...facts, excessPermissions: [] }, required, opts)
  t.same([none.status, none.excessPermissions], ['ok', []])
  const refused = parseComposite({ compositeResponse: [{ body: [{ errorCode: 'INVALID_FIELD', message: 'No such column' }], httpStatusCode: 400, referenceId: 'privileges' }] }, required)
  t.equal(refused.excessPermissions, undefined, 'not answered: not claimed either way')
  t.ok(refused.unreadable.some(u => /^UserPermissionAccess \(privileged rights\): INVALID_FIELD/.test(u)), 'and says why')
  t.notOk(evaluateReadiness(refused, required, opts).excessPermissions)
})

t.test('password expiry: a date, a warning inside the window, none outside it or when it never expires', async t => {
  const req = { requiredPermissions: [], passwordExpiresAfterDays: 90 }
  const soon = evaluateReadiness({ passwordNeverExpires: false, lastPasswordChangeAt: NOW - 80 * DAY, unreadable: [] }, req, opts)
  t.equal(soon.status, 'warn')
  t.equal(soon.password?.expiresAt, NOW + 10 * DAY)
  t.equal(soon.password?.daysLeft, 10)
  t.match(soon.findings[0], 'the password expires on 2026-12-10 (in 10 days)')
  t.match(readinessHint(soon), /PATCH \/v1\/admin\/connections\/\{name\}\/credentials.*INVALID_OPERATION_WITH_EXPIRED_PASSWORD/)
  const later = evaluateReadiness({ passwordNeverExpires: false, lastPasswordChangeAt: NOW - 60 * DAY, unreadable: [] }, req, opts)
  t.same([later.status, later.password?.daysLeft], ['ok', 30])
  t.equal(evaluateReadiness({ passwordNeverExpires: false, lastPasswordChangeAt: NOW - 60 * DAY, unreadable: [] }, req, { now: NOW, warnDays: 30 }).status, 'warn', 'the window is configurable')
  const expired = evaluateReadiness({ passwordNeverExpires: false, lastPasswordChangeAt: NOW - 91 * DAY, unreadable: [] }, req, opts)
  t.match(expired.findings[0], /expired on/)
  const never = evaluateReadiness({ passwordNeverExpires: true, lastPasswordChangeAt: NOW - 900 * DAY, unreadable: [] }, req, opts)
  t.same([never.status, never.password?.neverExpires, never.password?.expiresAt], ['ok', true, undefined])
  const hidden = evaluateReadiness({ passwordNeverExpires: false, unreadable: ['User.LastPasswordChangeDate: INVALID_FIELD: No such column'] }, req, opts)
  t.equal(hidden.status, 'warn', 'what cannot be read is said, not guessed')
  t.match(readinessHint(hidden), /INVALID_FIELD/)
})

t.test('composite answers: rows, refused subqueries, an unknown permission name', async t => {
  const req = { requiredPermissions: ['PermissionsModifyAllData'], passwordExpiresAfterDays: 90 }
  const ok = parseComposite({
    compositeResponse: [
      { body: { totalSize: 1, done: true, records: [{ attributes: { type: 'UserPermissionAccess' }, PermissionsModifyAllData: true, PermissionsPasswordNeverExpires: false }] }, httpHeaders: {}, httpStatusCode: 200, referenceId: 'permissions' },
      { body: { totalSize: 1, done: true, records: [{ attributes: { type: 'UserPermissionAccess' }, PermissionsViewAllData: false, PermissionsAuthorApex: false }] }, httpHeaders: {}, httpStatusCode: 200, referenceId: 'privileges' },
      { body: { totalSize: 1, done: true, records: [{ LastPasswordChangeDate: '2026-09-01T00:00:00.000+0000' }] }, httpHeaders: {}, httpStatusCode: 200, referenceId: 'user' },
      { body: [{ errorCode: 'INVALID_TYPE', message: "\nSELECT …\n^\nERROR at Row:1:Column:22\nsObject type 'LoginHistory' is not supported." }], httpHeaders: {}, httpStatusCode: 400, referenceId: 'loginHistory' },
    ],
  }, req)
  t.same(ok, { unreadable: [], permissions: { PermissionsModifyAllData: true }, excessPermissions: [], passwordNeverExpires: false, lastPasswordChangeAt: Date.parse('2026-09-01T00:00:00.000Z') })
  const unknown = parseComposite({ compositeResponse: [{ body: [{ errorCode: 'INVALID_FIELD', message: "\nSELECT PermissionsNope FROM UserPermissionAccess\n       ^\nERROR at Row:1:Column:8\nNo such column 'PermissionsNope' on entity 'UserPermissionAccess'." }], httpStatusCode: 400, referenceId: 'permissions' }] }, { requiredPermissions: ['PermissionsNope'] })
  t.equal(unknown.unknownPermission, 'PermissionsNope')
  t.match(unknown.unreadable[0], /^UserPermissionAccess: INVALID_FIELD: No such column 'PermissionsNope'/)
  const r = evaluateReadiness(unknown, { requiredPermissions: ['PermissionsNope'] }, opts)
  t.equal(r.status, 'warn')
  t.match(r.findings[0], /knows no permission PermissionsNope/)
  t.equal(parseSfDateTime('2026-11-30T13:45:00.000+0000'), Date.parse('2026-11-30T13:45:00.000Z'))
  t.equal(parseSfDateTime('yesterday'), undefined)
})

t.test('login restriction hints name the settings, and an address only when Salesforce reported one', async t => {
  const without = loginRestrictionHint(undefined)
  t.match(without, /Login IP Ranges.*Login Hours.*Network Access/)
  t.notMatch(without, /\d+\.\d+\.\d+\.\d+/, 'no address guessed')
  t.match(loginRestrictionHint({ at: NOW, sourceIp: '203.0.113.7' }), /from 203\.0\.113\.7 at 2026-11-30T12:00:00\.000Z/)
})
