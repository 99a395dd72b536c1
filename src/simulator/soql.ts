import { to18 } from './ids.ts'
import type { SimOrgState } from './types.ts'

type Row = Record<string, string | number | boolean | null>

export interface SoqlError { errorCode: 'MALFORMED_QUERY' | 'INVALID_TYPE' | 'INVALID_FIELD', message: string }

export interface SoqlResult {
  totalSize: number
  done: true
  records: Array<Record<string, unknown>>
}

const ACCOUNTS: Row[] = [
  { Id: to18('001Dn000000Sim1'), Name: 'Edge Communications', Industry: 'Electronics', Type: 'Customer - Direct', BillingCity: 'Austin' },
  { Id: to18('001Dn000000Sim2'), Name: 'Burlington Textiles Corp of America', Industry: 'Apparel', Type: 'Customer - Direct', BillingCity: 'Burlington' },
  { Id: to18('001Dn000000Sim3'), Name: 'United Oil & Gas Corp.', Industry: 'Energy', Type: 'Customer - Direct', BillingCity: 'New York' },
]

const CONTACTS: Row[] = [
  { Id: to18('003Dn000000Sim1'), FirstName: 'Rose', LastName: 'Gonzalez', Name: 'Rose Gonzalez', Email: 'rose@edge.example', AccountId: ACCOUNTS[0].Id },
  { Id: to18('003Dn000000Sim2'), FirstName: 'Jack', LastName: 'Rogers', Name: 'Jack Rogers', Email: 'jrogers@burlington.example', AccountId: ACCOUNTS[1].Id },
]

/** The fixed records the simulated org holds; users and the organization come from the org's state. */
function tableFor (org: SimOrgState, sobject: string): { type: string, rows: Row[] } | undefined {
  switch (sobject.toLowerCase()) {
    case 'account': return { type: 'Account', rows: ACCOUNTS }
    case 'contact': return { type: 'Contact', rows: CONTACTS }
    case 'user': return {
      type: 'User',
      rows: [...org.users.values()].map(u => ({ Id: u.userId, Username: u.username, Name: u.username.split('@')[0], Email: u.username, IsActive: u.active })),
    }
    case 'organization': return { type: 'Organization', rows: [{ Id: org.orgId, Name: org.key, IsSandbox: false, OrganizationType: 'Enterprise Edition' }] }
    default: return undefined
  }
}

const SELECT = /^\s*SELECT\s+([\s\S]+?)\s+FROM\s+([A-Za-z_][\w]*)(?:\s+([\s\S]*?))?\s*$/i

/**
 * Enough SOQL for a session check or a demo: SELECT fields|COUNT() FROM object [WHERE …] [LIMIT n].
 * WHERE and ORDER BY are accepted and ignored; the answer is always the object's fixed records.
 */
export function runSoql (org: SimOrgState, soql: string, apiVersion: string): SoqlResult | SoqlError {
  const match = SELECT.exec(soql)
  if (!match) return { errorCode: 'MALFORMED_QUERY', message: `unexpected token: '${soql.trim().split(/\s+/)[0] ?? ''}'` }
  const [, fieldList, sobject, rest = ''] = match
  const table = tableFor(org, sobject)
  if (!table) {
    return {
      errorCode: 'INVALID_TYPE',
      message: `sObject type '${sobject}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    }
  }
  const limitMatch = /\bLIMIT\s+(\d+)\b/i.exec(rest)
  const rows = limitMatch ? table.rows.slice(0, Number(limitMatch[1])) : table.rows
  if (/^\s*COUNT\(\s*\)\s*$/i.test(fieldList)) return { totalSize: rows.length, done: true, records: [] }
  const known = Object.keys(table.rows[0] ?? { Id: '' })
  const fields: string[] = []
  for (const requested of fieldList.split(',').map(f => f.trim())) {
    const canonical = known.find(k => k.toLowerCase() === requested.toLowerCase())
    if (!canonical) return { errorCode: 'INVALID_FIELD', message: `No such column '${requested}' on entity '${table.type}'.` }
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
