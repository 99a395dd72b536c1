import { to18 } from './ids.ts'
import { findUserById, isLockedOutView, orgNow } from './org-state.ts'
import { recordsOf, sfDateTime, sobjectDef } from './records.ts'
import type { SimOrgState, SimUserState } from './types.ts'
import { permissionRow, USER_PERMISSION_FIELDS } from './user-permissions.ts'

type Row = Record<string, string | number | boolean | null>

export interface SoqlError { errorCode: 'MALFORMED_QUERY' | 'INVALID_TYPE' | 'INVALID_FIELD', message: string }

export interface SoqlResult {
  totalSize: number
  done: true
  records: Array<Record<string, unknown>>
}

/**
 * UserPermissionAccess rows are not stored records: Salesforce answers them with an all-zero id
 * (second-hand: answers quoted on salesforce.stackexchange).
 */
const VIRTUAL_ID = '000000000000000AAA'

export { sfDateTime }

interface Table { type: string, columns: string[], rows: Row[] }

const USER_COLUMNS = ['Id', 'Username', 'Name', 'Email', 'IsActive', 'LastPasswordChangeDate']
/**
 * User administration fields: the counter the lockout compares with "Maximum invalid login
 * attempts" (User.NumberOfFailedLogins, SOAP API Developer Guide "User"), and UserLogin's lock
 * (IsPasswordLocked, "UserLogin"). Modelled as readable with "Manage Users" only, like LoginHistory
 * here: we found no statement of the permission they need, so the simulator assumes the stricter one.
 */
const USER_ADMIN_COLUMNS = ['NumberOfFailedLogins']

/**
 * The objects the simulated org holds. Users, the organization, the running user's permissions and
 * login history come from the org's state; what the running user may not see is not there at all,
 * which is how Salesforce answers it (an object the user has no access to: INVALID_TYPE; a field
 * hidden by field-level security: INVALID_FIELD).
 */
function tableFor (org: SimOrgState, sobject: string, me: SimUserState | undefined, includeDeleted: boolean): Table | undefined {
  const data = sobjectDef(sobject)
  if (data) return { type: data.name, columns: data.fields.map(f => f.name), rows: recordsOf(org, data, includeDeleted) }
  switch (sobject.toLowerCase()) {
    case 'user': return {
      type: 'User',
      columns: [...USER_COLUMNS, ...(me?.permissions.PermissionsManageUsers ? USER_ADMIN_COLUMNS : [])].filter(c => !me?.hiddenUserFields.includes(c)),
      rows: [...org.users.values()].map(u => ({
        NumberOfFailedLogins: u.failedLogins,
        Id: u.userId,
        Username: u.username,
        Name: u.username.split('@')[0],
        Email: u.username,
        IsActive: u.active,
        LastPasswordChangeDate: sfDateTime(u.lastPasswordChangeDate),
      })),
    }
    case 'userlogin':
      if (!me?.permissions.PermissionsManageUsers) return undefined
      return {
        type: 'UserLogin',
        columns: ['Id', 'UserId', 'IsPasswordLocked', 'IsFrozen'],
        rows: [...org.users.values()].map(u => ({
          Id: to18(`060${u.userId.slice(3, 15)}`),
          UserId: u.userId,
          IsPasswordLocked: isLockedOutView(u, orgNow(org)),
          IsFrozen: false,
        })),
      }
    case 'organization': return { type: 'Organization', columns: ['Id', 'Name', 'IsSandbox', 'OrganizationType'], rows: [{ Id: org.orgId, Name: org.key, IsSandbox: false, OrganizationType: 'Enterprise Edition' }] }
    case 'userpermissionaccess': return {
      type: 'UserPermissionAccess',
      columns: ['Id', ...USER_PERMISSION_FIELDS],
      rows: me ? [{ Id: VIRTUAL_ID, ...permissionRow(me) }] : [],
    }
    case 'loginhistory':
      // reading LoginHistory takes "Manage Users"; without it the object does not exist for the user
      if (!me?.permissions.PermissionsManageUsers) return undefined
      return {
        type: 'LoginHistory',
        columns: ['Id', 'UserId', 'LoginTime', 'SourceIp', 'Status', 'LoginType'],
        rows: [...org.users.values()].flatMap(u => u.loginHistory.map((h, i) => ({
          Id: to18(`0Ya${u.userId.slice(3, 9)}${String(i).padStart(6, '0')}`),
          UserId: u.userId,
          LoginTime: sfDateTime(h.loginTime),
          SourceIp: h.sourceIp,
          Status: 'Success',
          LoginType: 'Remote Access 2.0',
        }))),
      }
    default: return undefined
  }
}

const SELECT = /^\s*SELECT\s+([\s\S]+?)\s+FROM\s+([A-Za-z_][\w]*)(?:\s+([\s\S]*?))?\s*$/i
const CLAUSES = /^(?:WHERE\s+([\s\S]+?))?\s*(?:ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?)?\s*(?:LIMIT\s+(\d+))?$/i
const EQUALS = /^(\w+)\s*=\s*'([^'\\]*)'$/

/**
 * Salesforce's query errors point at the offending token:
 * "\nselect id,name,type from accountx\n                         ^\nERROR at Row:1:Column:26\nsObject type …"
 * (REST error shape quoted by Salesforce's Simon Fell on the developer forums; "Status Codes and Error Responses").
 */
function located (soql: string, token: string, text: string, after?: RegExp): string {
  const lines = soql.split('\n')
  let seen = after === undefined
  for (let row = 0; row < lines.length; row++) {
    let from = 0
    if (!seen) {
      const marker = after?.exec(lines[row])
      if (!marker) continue
      seen = true
      from = marker.index + marker[0].length
    }
    const at = lines[row].toLowerCase().indexOf(token.toLowerCase(), from)
    if (at >= 0) return `\n${lines[row]}\n${' '.repeat(at)}^\nERROR at Row:${row + 1}:Column:${at + 1}\n${text}`
  }
  return text
}

function noSuchColumn (soql: string, column: string, type: string): SoqlError {
  return {
    errorCode: 'INVALID_FIELD',
    message: located(soql, column, `No such column '${column}' on entity '${type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`),
  }
}

/**
 * Enough SOQL for a session check, the readiness checks or a demo: SELECT fields|COUNT() FROM
 * object [WHERE a = 'x' [AND …]] [ORDER BY f [ASC|DESC]] [LIMIT n]. A WHERE clause of another form
 * is accepted and ignored (the object's every record answers). `runningUserId` is the session's user;
 * `includeDeleted` is queryAll ("QueryAll": deleted records in the Recycle Bin answer too).
 */
export function runSoql (org: SimOrgState, soql: string, apiVersion: string, runningUserId?: string, includeDeleted = false): SoqlResult | SoqlError {
  const match = SELECT.exec(soql)
  if (!match) return { errorCode: 'MALFORMED_QUERY', message: `unexpected token: '${soql.trim().split(/\s+/)[0] ?? ''}'` }
  const [, fieldList, sobject, rest = ''] = match
  const me = runningUserId === undefined ? undefined : findUserById(org, runningUserId)
  const table = tableFor(org, sobject, me, includeDeleted)
  if (!table) {
    return {
      errorCode: 'INVALID_TYPE',
      message: located(soql, sobject, `sObject type '${sobject}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`, /\bFROM\b/i),
    }
  }
  const column = (requested: string): string | undefined => table.columns.find(k => k.toLowerCase() === requested.toLowerCase())
  const clauses = CLAUSES.exec(rest.trim())
  let rows = table.rows
  if (clauses?.[1]) {
    const conditions = clauses[1].split(/\s+AND\s+/i).map(c => EQUALS.exec(c.trim()))
    if (conditions.every(c => c !== null)) {
      for (const [, field, value] of conditions as RegExpExecArray[]) {
        const name = column(field)
        if (!name) return noSuchColumn(soql, field, table.type)
        rows = rows.filter(r => String(r[name]) === value)
      }
    }
  }
  if (clauses?.[2]) {
    const name = column(clauses[2])
    if (!name) return noSuchColumn(soql, clauses[2], table.type)
    const sign = clauses[3]?.toUpperCase() === 'DESC' ? -1 : 1
    rows = [...rows].sort((a, b) => sign * String(a[name]).localeCompare(String(b[name])))
  }
  const limit = clauses?.[4] ?? /\bLIMIT\s+(\d+)\b/i.exec(rest)?.[1]
  if (limit !== undefined) rows = rows.slice(0, Number(limit))
  if (/^\s*COUNT\(\s*\)\s*$/i.test(fieldList)) return { totalSize: rows.length, done: true, records: [] }
  const fields: string[] = []
  for (const requested of fieldList.split(',').map(f => f.trim())) {
    const canonical = column(requested)
    if (!canonical) return noSuchColumn(soql, requested, table.type)
    fields.push(canonical)
  }
  const records = rows.map(row => {
    const record: Record<string, unknown> = {
      attributes: { type: table.type, url: `/services/data/v${apiVersion}/sobjects/${table.type}/${row.Id}` },
    }
    for (const field of fields) record[field] = row[field] ?? null
    return record
  })
  return { totalSize: records.length, done: true, records }
}
