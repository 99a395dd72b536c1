import t from 'tap'
import { USER, getWithToken, http, passwordLogin, startAcme } from './fixtures.ts'

async function token (baseUrl: string): Promise<string> {
  const res = await passwordLogin(baseUrl)
  if (res.status !== 200) throw new Error(`login failed: ${res.text}`)
  return res.json.access_token
}

const PERMS = 'SELECT PermissionsApiEnabled, PermissionsModifyAllData, PermissionsPasswordNeverExpires FROM UserPermissionAccess'

t.test('UserPermissionAccess answers the running user\'s effective permissions in Salesforce\'s query shape', async t => {
  const sim = await startAcme(t, { users: [{ ...USER, permissions: { PermissionsModifyAllData: true } }] })
  const access = await token(sim.loginUrl)
  const res = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=${encodeURIComponent(PERMS)}`, access)
  t.equal(res.status, 200)
  t.same(Object.keys(res.json), ['totalSize', 'done', 'records'])
  t.same(res.json, {
    totalSize: 1,
    done: true,
    records: [{
      attributes: { type: 'UserPermissionAccess', url: '/services/data/v62.0/sobjects/UserPermissionAccess/000000000000000AAA' },
      PermissionsApiEnabled: true,
      PermissionsModifyAllData: true,
      PermissionsPasswordNeverExpires: false,
    }],
  })
})

t.test('a profile edit over the control API changes what the next query answers', async t => {
  const sim = await startAcme(t, { users: [{ ...USER, permissions: { PermissionsModifyAllData: true } }] })
  const access = await token(sim.loginUrl)
  const path = `${sim.loginUrl}/_sim/orgs/acme/users/${encodeURIComponent(USER.username)}`
  const edit = await http(path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ permissions: { PermissionsModifyAllData: false, PermissionsPasswordNeverExpires: true }, lastPasswordChangeDate: '2026-01-02T03:04:05.000Z' }) })
  t.equal(edit.status, 200)
  t.match(edit.json.permissions, { PermissionsModifyAllData: false, PermissionsPasswordNeverExpires: true, PermissionsApiEnabled: true })
  t.equal(edit.json.lastPasswordChangeDate, '2026-01-02T03:04:05.000Z')
  const perms = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=${encodeURIComponent(PERMS)}`, access)
  t.match(perms.json.records[0], { PermissionsModifyAllData: false, PermissionsPasswordNeverExpires: true })
  const me = sim.org('acme').users.get(USER.username)!
  const user = await getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=${encodeURIComponent(`SELECT Id, LastPasswordChangeDate FROM User WHERE Id = '${me.userId}'`)}`, access)
  t.same(user.json.records, [{ attributes: { type: 'User', url: `/services/data/v62.0/sobjects/User/${me.userId}` }, Id: me.userId, LastPasswordChangeDate: '2026-01-02T03:04:05.000+0000' }])

  const unknown = await http(path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ permissions: { PermissionsMadeUp: true } }) })
  t.equal(unknown.status, 400)
  const apiOff = await http(path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ permissions: { PermissionsApiEnabled: false } }) })
  t.equal(apiOff.json.apiEnabled, false, 'API Enabled is one setting, whichever way it is edited')
})

t.test('query errors point at the token, as Salesforce\'s do; hidden fields and objects do not exist for the user', async t => {
  const sim = await startAcme(t, { users: [{ ...USER, hiddenUserFields: ['LastPasswordChangeDate'] }] })
  const access = await token(sim.loginUrl)
  const q = (soql: string) => getWithToken(`${sim.myDomainUrl('acme')}/services/data/v62.0/query?q=${encodeURIComponent(soql)}`, access)
  const misspelled = await q('SELECT PermissionsModifyAllDta FROM UserPermissionAccess')
  t.equal(misspelled.status, 400)
  t.same(misspelled.json, [{
    errorCode: 'INVALID_FIELD',
    message: "\nSELECT PermissionsModifyAllDta FROM UserPermissionAccess\n       ^\nERROR at Row:1:Column:8\nNo such column 'PermissionsModifyAllDta' on entity 'UserPermissionAccess'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
  }])
  const hidden = await q('SELECT LastPasswordChangeDate FROM User')
  t.equal(hidden.json[0].errorCode, 'INVALID_FIELD', 'field-level security hides the column')
  const sameName = await q('SELECT Name FROM Name')
  t.match(sameName.json[0].message, /ERROR at Row:1:Column:18\nsObject type 'Name'/, 'the caret points at the object, not at a field of the same name')
  const noAccess = await q('SELECT SourceIp FROM LoginHistory')
  t.equal(noAccess.json[0].errorCode, 'INVALID_TYPE', 'LoginHistory needs Manage Users')
  t.match(noAccess.json[0].message, /ERROR at Row:1:Column:22\nsObject type 'LoginHistory' is not supported/)
})

t.test('composite: several queries in one API call, each answered in its subrequest', async t => {
  const sim = await startAcme(t, { users: [{ ...USER, permissions: { PermissionsManageUsers: true } }] })
  const access = await token(sim.loginUrl)
  const me = sim.org('acme').users.get(USER.username)!
  const before = sim.org('acme').apiRequestsUsed
  const sub = (referenceId: string, soql: string) => ({ method: 'GET', url: `/services/data/v62.0/query?q=${encodeURIComponent(soql)}`, referenceId })
  const res = await http(`${sim.myDomainUrl('acme')}/services/data/v62.0/composite`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      compositeRequest: [
        sub('perms', PERMS),
        sub('login', `SELECT LoginTime, SourceIp FROM LoginHistory WHERE UserId = '${me.userId}' ORDER BY LoginTime DESC LIMIT 1`),
        sub('bad', 'SELECT Nope FROM User'),
      ],
    }),
  })
  t.equal(res.status, 200)
  t.equal(sim.org('acme').apiRequestsUsed, before + 1, 'one call against the daily allocation')
  t.equal(res.headers.get('sforce-limit-info'), `api-usage=${before + 1}/15000`)
  const [perms, login, bad] = res.json.compositeResponse
  t.same(Object.keys(perms), ['body', 'httpHeaders', 'httpStatusCode', 'referenceId'])
  t.match(perms, { httpStatusCode: 200, referenceId: 'perms', body: { totalSize: 1, done: true } })
  t.match(login.body.records[0], { SourceIp: '127.0.0.1', LoginTime: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/ })
  t.match(bad, { httpStatusCode: 400, referenceId: 'bad', body: [{ errorCode: 'INVALID_FIELD' }] })

  const allOrNone = await http(`${sim.myDomainUrl('acme')}/services/data/v62.0/composite`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
    body: JSON.stringify({ allOrNone: true, compositeRequest: [sub('perms', PERMS), sub('bad', 'SELECT Nope FROM User')] }),
  })
  t.match(allOrNone.json.compositeResponse[0], { httpStatusCode: 400, body: [{ errorCode: 'PROCESSING_HALTED' }] })
})
