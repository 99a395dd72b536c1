import { deleteRecord, fieldOf, findRecord, insertRecord, SOBJECTS, sobjectDef, transaction, updateRecord } from './records.ts'
import { canonicalValues, recordView, writeError, type Answer, type RestError } from './sobjects.ts'
import { orgNow } from './org-state.ts'
import type { SimOrgState } from './types.ts'

/**
 * sObject Collections (REST API Developer Guide, "sObject Collections", API 42.0+): up to 200
 * records in one call, which jsforce uses for create/update/destroy/retrieve of arrays.
 *   POST   /composite/sobjects            { allOrNone, records: [{ attributes: { type }, …}] } → SaveResult[]
 *   PATCH  /composite/sobjects            the same with each record's id
 *   DELETE /composite/sobjects?ids=a,b[&allOrNone=true]
 *   POST   /composite/sobjects/{Type}     { ids, fields } → the records (null for an unknown id)
 * A SaveResult is { id, success, errors }; the errors here carry `statusCode`, not `errorCode`.
 * With allOrNone every record is rolled back at the first error and the valid ones answer
 * ALL_OR_NONE_OPERATION_ROLLED_BACK.
 */

const MAX_RECORDS = 200

interface SaveError { statusCode: string, message: string, fields: string[] }
interface SaveResult { id?: string, success: boolean, errors: SaveError[] }

const saveError = (e: RestError): SaveError => ({ statusCode: e.errorCode, message: e.message, fields: e.fields ?? [] })
const ROLLED_BACK: SaveError = { statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }
const UNKNOWN_ID: SaveError = { statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }
const DELETED: SaveError = { statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }

function tooMany (count: number): Answer | undefined {
  if (count <= MAX_RECORDS) return undefined
  return { status: 400, body: [{ message: `Maximum number of records (${MAX_RECORDS}) exceeded`, errorCode: 'EXCEEDED_ID_LIMIT' }] }
}

function saveOne (org: SimOrgState, userId: string, method: string, record: Record<string, unknown>): SaveResult {
  const attributes = record.attributes as { type?: unknown } | undefined
  const def = typeof attributes?.type === 'string' ? sobjectDef(attributes.type) : undefined
  const id = typeof record.id === 'string' ? record.id : typeof record.Id === 'string' ? record.Id : undefined
  if (!def) return { ...(id ? { id } : {}), success: false, errors: [{ statusCode: 'INVALID_TYPE', message: 'Must send a concrete entity type.', fields: [] }] }
  const values = Object.fromEntries(Object.entries(record).filter(([k]) => k !== 'attributes' && k.toLowerCase() !== 'id'))
  const error = writeError(def, values, method === 'POST')
  if (error) return { ...(id && method !== 'POST' ? { id } : {}), success: false, errors: [saveError(error)] }
  if (method === 'POST') return { id: insertRecord(org, def, canonicalValues(def, values), userId).Id as string, success: true, errors: [] }
  const row = id === undefined ? undefined : findRecord(org, def, id)
  if (!row) return { ...(id ? { id } : {}), success: false, errors: [UNKNOWN_ID] }
  if (row.IsDeleted === true) return { id: row.Id as string, success: false, errors: [DELETED] }
  updateRecord(def, row, canonicalValues(def, values), orgNow(org))
  return { id: row.Id as string, success: true, errors: [] }
}

function deleteOne (org: SimOrgState, id: string): SaveResult {
  const prefix = id.slice(0, 3)
  const def = SOBJECTS.find(d => d.keyPrefix === prefix)
  const row = def ? findRecord(org, def, id) : undefined
  if (!row) return { id, success: false, errors: [UNKNOWN_ID] }
  if (row.IsDeleted === true) return { id: row.Id as string, success: false, errors: [DELETED] }
  deleteRecord(row, orgNow(org))
  return { id: row.Id as string, success: true, errors: [] }
}

function allOrNoneResults (results: SaveResult[], allOrNone: boolean): SaveResult[] {
  if (!allOrNone || results.every(r => r.success)) return results
  return results.map(r => r.success ? { ...(r.id ? { id: r.id } : {}), success: false, errors: [ROLLED_BACK] } : r)
}

function retrieve (org: SimOrgState, type: string, body: unknown, version: string): Answer {
  const def = sobjectDef(type)
  const { ids, fields } = (body ?? {}) as { ids?: unknown, fields?: unknown }
  if (!def) return { status: 404, body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }] }
  if (!Array.isArray(ids) || !Array.isArray(fields)) return { status: 400, body: [{ message: 'ids and fields are required', errorCode: 'INVALID_FIELD' }] }
  const tooLarge = tooMany(ids.length)
  if (tooLarge) return tooLarge
  const names: string[] = []
  for (const requested of fields) {
    const field = typeof requested === 'string' ? fieldOf(def, requested) : undefined
    if (!field) return { status: 400, body: [{ message: `No such column '${String(requested)}' on sobject of type ${def.name}`, errorCode: 'INVALID_FIELD' }] }
    names.push(field.name)
  }
  return {
    status: 200,
    body: ids.map(id => {
      const row = typeof id === 'string' ? findRecord(org, def, id) : undefined
      return row && row.IsDeleted !== true ? recordView(def, row, version, names) : null
    }),
  }
}

/** `parts` is the path after /composite/sobjects. */
export function collectionsAnswer (org: SimOrgState, userId: string, method: string, parts: string[], search: URLSearchParams, body: unknown, version: string): Answer {
  if (parts.length === 1 && (method === 'POST' || method === 'GET')) {
    const query = { ids: search.get('ids')?.split(','), fields: search.get('fields')?.split(',') }
    return retrieve(org, parts[0], method === 'GET' ? query : body, version)
  }
  if (parts.length > 0) return { status: 404, body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }] }
  let results: SaveResult[] = []
  let allOrNone = false
  if (method === 'DELETE') {
    const ids = (search.get('ids') ?? '').split(',').filter(Boolean)
    allOrNone = search.get('allOrNone') === 'true'
    const tooLarge = tooMany(ids.length)
    if (tooLarge) return tooLarge
    transaction(() => {
      results = ids.map(id => deleteOne(org, id))
      return !allOrNone || results.every(r => r.success)
    })
  } else if (method === 'POST' || method === 'PATCH') {
    const { records, allOrNone: all } = (body ?? {}) as { records?: unknown, allOrNone?: unknown }
    if (!Array.isArray(records)) return { status: 400, body: [{ message: 'records is required', errorCode: 'JSON_PARSER_ERROR' }] }
    const tooLarge = tooMany(records.length)
    if (tooLarge) return tooLarge
    allOrNone = all === true
    transaction(() => {
      results = records.map(r => saveOne(org, userId, method, (r ?? {}) as Record<string, unknown>))
      return !allOrNone || results.every(r => r.success)
    })
  } else {
    return { status: 405, body: [{ message: `HTTP Method '${method}' not allowed. Allowed are POST,PATCH,DELETE`, errorCode: 'METHOD_NOT_ALLOWED' }] }
  }
  return { status: 200, body: allOrNoneResults(results, allOrNone) }
}
