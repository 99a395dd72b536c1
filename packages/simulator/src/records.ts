import { newSalesforceId, to18 } from './ids.ts'
import { orgNow } from './org-state.ts'
import type { SimOrgState } from './types.ts'

/**
 * The org's data records: the objects a client may create, read, update and delete through the
 * REST API, Bulk API 2.0 and SOQL. Each org gets its own copy of the seed records, so one test's
 * writes never show in another org. Field metadata follows the shape of DescribeSObjectResult's
 * `fields` (SOAP API Developer Guide, "Field"), reduced to what clients read.
 */

export type Value = string | number | boolean | null
export type Row = Record<string, Value>

export interface FieldDef {
  name: string
  label: string
  /** Salesforce's field types: id, string, textarea, email, phone, url, picklist, reference, boolean, int, currency, datetime */
  type: string
  length: number
  nillable: boolean
  createable: boolean
  updateable: boolean
  /** set for reference fields */
  referenceTo?: string[]
  relationshipName?: string
}

export interface SObjectDef {
  name: string
  label: string
  labelPlural: string
  keyPrefix: string
  /** fields a create must set (nillable false, createable, no default) */
  required: string[]
  fields: FieldDef[]
}

const SYSTEM_FIELDS = (idLabel: string): FieldDef[] => [
  { name: 'Id', label: idLabel, type: 'id', length: 18, nillable: false, createable: false, updateable: false },
  { name: 'IsDeleted', label: 'Deleted', type: 'boolean', length: 0, nillable: false, createable: false, updateable: false },
  { name: 'OwnerId', label: 'Owner ID', type: 'reference', length: 18, nillable: false, createable: true, updateable: true, referenceTo: ['User'], relationshipName: 'Owner' },
  { name: 'CreatedDate', label: 'Created Date', type: 'datetime', length: 0, nillable: false, createable: false, updateable: false },
  { name: 'CreatedById', label: 'Created By ID', type: 'reference', length: 18, nillable: false, createable: false, updateable: false, referenceTo: ['User'], relationshipName: 'CreatedBy' },
  { name: 'LastModifiedDate', label: 'Last Modified Date', type: 'datetime', length: 0, nillable: false, createable: false, updateable: false },
  { name: 'SystemModstamp', label: 'System Modstamp', type: 'datetime', length: 0, nillable: false, createable: false, updateable: false },
]

const text = (name: string, label: string, length = 255, type = 'string'): FieldDef =>
  ({ name, label, type, length, nillable: true, createable: true, updateable: true })

export const SOBJECTS: SObjectDef[] = [
  {
    name: 'Account',
    label: 'Account',
    labelPlural: 'Accounts',
    keyPrefix: '001',
    required: ['Name'],
    fields: [
      ...SYSTEM_FIELDS('Account ID'),
      { ...text('Name', 'Account Name'), nillable: false },
      text('Type', 'Account Type', 255, 'picklist'),
      text('Industry', 'Industry', 255, 'picklist'),
      text('BillingCity', 'Billing City', 40),
      text('Phone', 'Account Phone', 40, 'phone'),
      text('Website', 'Website', 255, 'url'),
      { ...text('NumberOfEmployees', 'Employees', 0, 'int') },
      { ...text('AnnualRevenue', 'Annual Revenue', 0, 'currency') },
      text('Description', 'Account Description', 32000, 'textarea'),
    ],
  },
  {
    name: 'Contact',
    label: 'Contact',
    labelPlural: 'Contacts',
    keyPrefix: '003',
    required: ['LastName'],
    fields: [
      ...SYSTEM_FIELDS('Contact ID'),
      { name: 'AccountId', label: 'Account ID', type: 'reference', length: 18, nillable: true, createable: true, updateable: true, referenceTo: ['Account'], relationshipName: 'Account' },
      text('FirstName', 'First Name', 40),
      { ...text('LastName', 'Last Name', 80), nillable: false },
      // Name is compound: read-only, made of FirstName and LastName
      { name: 'Name', label: 'Full Name', type: 'string', length: 121, nillable: false, createable: false, updateable: false },
      text('Email', 'Email', 80, 'email'),
      text('Phone', 'Business Phone', 40, 'phone'),
      text('MailingCity', 'Mailing City', 40),
    ],
  },
]

export function sobjectDef (name: string): SObjectDef | undefined {
  const wanted = name.toLowerCase()
  return SOBJECTS.find(d => d.name.toLowerCase() === wanted)
}

export function fieldOf (def: SObjectDef, name: string): FieldDef | undefined {
  const wanted = name.toLowerCase()
  return def.fields.find(f => f.name.toLowerCase() === wanted)
}

/** Salesforce's datetime wire format in REST answers: 2026-11-30T13:45:00.000+0000 */
export function sfDateTime (ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '+0000')
}

const SEED: Record<string, Row[]> = {
  Account: [
    { Id: to18('001Dn000000Sim1'), Name: 'Edge Communications', Industry: 'Electronics', Type: 'Customer - Direct', BillingCity: 'Austin' },
    { Id: to18('001Dn000000Sim2'), Name: 'Burlington Textiles Corp of America', Industry: 'Apparel', Type: 'Customer - Direct', BillingCity: 'Burlington' },
    { Id: to18('001Dn000000Sim3'), Name: 'United Oil & Gas Corp.', Industry: 'Energy', Type: 'Customer - Direct', BillingCity: 'New York' },
  ],
  Contact: [
    { Id: to18('003Dn000000Sim1'), FirstName: 'Rose', LastName: 'Gonzalez', Email: 'rose@edge.example', AccountId: to18('001Dn000000Sim1') },
    { Id: to18('003Dn000000Sim2'), FirstName: 'Jack', LastName: 'Rogers', Email: 'jrogers@burlington.example', AccountId: to18('001Dn000000Sim2') },
  ],
}

/** Records by object name, then by 18-character id; deleted records stay (IsDeleted) for queryAll. */
type OrgRecords = Map<string, Map<string, Row>>

const stores = new WeakMap<SimOrgState, OrgRecords>()
const SEED_OWNER = '005000000000000AAA'

function complete (def: SObjectDef, values: Row, ownerId: string, now: number): Row {
  const row: Row = {}
  for (const field of def.fields) row[field.name] = values[field.name] ?? null
  row.IsDeleted = false
  row.OwnerId = values.OwnerId ?? ownerId
  row.CreatedById = ownerId
  row.CreatedDate = row.LastModifiedDate = row.SystemModstamp = sfDateTime(now)
  if (def.name === 'Contact') row.Name = [row.FirstName, row.LastName].filter(v => v !== null && v !== '').join(' ')
  return row
}

function storeOf (org: SimOrgState): OrgRecords {
  let store = stores.get(org)
  if (!store) {
    store = new Map()
    const now = orgNow(org)
    for (const def of SOBJECTS) {
      store.set(def.name, new Map((SEED[def.name] ?? []).map(r => [r.Id as string, complete(def, r, SEED_OWNER, now)])))
    }
    stores.set(org, store)
  }
  return store
}

/** Every record of the object, deleted ones only when asked (queryAll). */
export function recordsOf (org: SimOrgState, def: SObjectDef, includeDeleted = false): Row[] {
  const rows = [...(storeOf(org).get(def.name)?.values() ?? [])]
  return includeDeleted ? rows : rows.filter(r => r.IsDeleted !== true)
}

/** A 15-character id is the same record as its 18-character form. */
export function findRecord (org: SimOrgState, def: SObjectDef, id: string): Row | undefined {
  const full = id.length === 15 ? to18(id) : id
  return storeOf(org).get(def.name)?.get(full)
}

/** Undo steps of the writes since a transaction began (composite and collections with allOrNone). */
let journal: Array<() => void> | undefined

/**
 * Runs `work` as one transaction: when it returns false, every write it made is undone. Handlers
 * run synchronously between reading a body and answering, so no other request interleaves.
 */
export function transaction (work: () => boolean): void {
  const outer = journal
  const steps: Array<() => void> = []
  journal = steps
  let kept = false
  try {
    kept = work()
  } finally {
    journal = outer
    if (!kept) for (const undo of steps.reverse()) undo()
    else outer?.push(...steps)
  }
}

export function insertRecord (org: SimOrgState, def: SObjectDef, values: Row, userId: string, now = orgNow(org)): Row {
  const row = complete(def, { ...values, Id: newSalesforceId(def.keyPrefix) }, userId, now)
  const table = storeOf(org).get(def.name)
  table?.set(row.Id as string, row)
  journal?.push(() => table?.delete(row.Id as string))
  return row
}

export function updateRecord (def: SObjectDef, row: Row, values: Row, now: number): void {
  const before = { ...row }
  journal?.push(() => Object.assign(row, before))
  Object.assign(row, values)
  if (def.name === 'Contact') row.Name = [row.FirstName, row.LastName].filter(v => v !== null && v !== '').join(' ')
  row.LastModifiedDate = row.SystemModstamp = sfDateTime(now)
}

/** A deleted record goes to the Recycle Bin: gone for query, still there for queryAll. */
export function deleteRecord (row: Row, now: number): void {
  const before = { ...row }
  journal?.push(() => Object.assign(row, before))
  row.IsDeleted = true
  row.SystemModstamp = sfDateTime(now)
}
