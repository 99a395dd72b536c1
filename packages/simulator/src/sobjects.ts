import {
  deleteRecord, fieldOf, findRecord, insertRecord, SOBJECTS, sobjectDef, updateRecord,
  type Row, type SObjectDef, type Value,
} from './records.ts'
import { orgNow } from './org-state.ts'
import type { SimOrgState } from './types.ts'

/**
 * The sObject resources of the REST API (REST API Developer Guide):
 *   GET  /sobjects                    "Describe Global": the objects there are
 *   GET  /sobjects/{Type}             "sObject Basic Information"; POST creates ("Create a Record":
 *                                     201 with { id, success, errors })
 *   GET  /sobjects/{Type}/describe    "sObject Describe" ("Get Field and Other Metadata for an Object")
 *   GET|PATCH|DELETE /sobjects/{Type}/{id}   "sObject Rows" ("Update a Record", "Delete a Record":
 *                                     204 No Content; GET takes ?fields=a,b)
 * Errors are Salesforce's array of { message, errorCode[, fields] } ("Status Codes and Error
 * Responses"); an unknown type or id is 404 NOT_FOUND, a deleted record 404 ENTITY_IS_DELETED.
 * The objects are Account and Contact (records.ts); others answer as objects the user cannot see.
 */

export interface Answer { status: number, body?: unknown }

export interface RestError { message: string, errorCode: string, fields?: string[] }

export const NOT_FOUND: RestError[] = [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]
const DELETED: RestError[] = [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted' }]

const fail = (status: number, error: RestError): Answer => ({ status, body: [error] })

/**
 * What Salesforce refuses in a write, one error at a time as the REST API answers it. `values`
 * from a JSON body keep their JSON types; from a Bulk CSV they are strings ('' for empty).
 */
export function writeError (def: SObjectDef, values: Record<string, unknown>, creating: boolean): RestError | undefined {
  for (const [name, value] of Object.entries(values)) {
    if (name === 'attributes') continue
    if (name.toLowerCase() === 'id' && creating) {
      return { message: 'The Id field should not be specified in the sobject data.', errorCode: 'INVALID_FIELD' }
    }
    const field = fieldOf(def, name)
    if (!field) return { message: `No such column '${name}' on sobject of type ${def.name}`, errorCode: 'INVALID_FIELD' }
    if (field.name === 'Id') continue
    if (!(creating ? field.createable : field.updateable)) {
      return {
        message: `Unable to create/update fields: ${field.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
        fields: [field.name],
      }
    }
    if (typeof value === 'string' && field.length > 0 && value.length > field.length) {
      return { message: `${field.label}: data value too large: ${value.slice(0, 20)} (max length=${field.length})`, errorCode: 'STRING_TOO_LONG', fields: [field.name] }
    }
    if (value !== null && typeof value === 'object') {
      return { message: `Cannot deserialize instance of ${field.type} from ${Array.isArray(value) ? 'START_ARRAY' : 'START_OBJECT'} value`, errorCode: 'JSON_PARSER_ERROR' }
    }
  }
  const missing = def.required.filter(name => {
    const given = Object.entries(values).find(([k]) => k.toLowerCase() === name.toLowerCase())
    return creating ? given === undefined || given[1] === null || given[1] === '' : given !== undefined && (given[1] === null || given[1] === '')
  })
  if (missing.length > 0) return { message: `Required fields are missing: [${missing.join(', ')}]`, errorCode: 'REQUIRED_FIELD_MISSING', fields: missing }
  return undefined
}

/** The values under the fields' canonical names, ready to store ('' is null, as Salesforce stores it). */
export function canonicalValues (def: SObjectDef, values: Record<string, unknown>): Row {
  const row: Row = {}
  for (const [name, value] of Object.entries(values)) {
    const field = fieldOf(def, name)
    if (field && field.name !== 'Id') row[field.name] = value === '' || value === undefined ? null : value as Value
  }
  return row
}

export function recordView (def: SObjectDef, row: Row, version: string, fields?: string[]): Record<string, unknown> {
  const view: Record<string, unknown> = { attributes: { type: def.name, url: `/services/data/v${version}/sobjects/${def.name}/${row.Id}` } }
  for (const field of fields ?? def.fields.map(f => f.name)) view[field] = row[field] ?? null
  return view
}

function urls (def: SObjectDef, version: string): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${def.name}`
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` }
}

function globalView (def: SObjectDef, version: string): Record<string, unknown> {
  return {
    activateable: false,
    createable: true,
    custom: false,
    customSetting: false,
    deletable: true,
    deprecatedAndHidden: false,
    feedEnabled: false,
    keyPrefix: def.keyPrefix,
    label: def.label,
    labelPlural: def.labelPlural,
    layoutable: true,
    mergeable: true,
    name: def.name,
    queryable: true,
    replicateable: true,
    retrieveable: true,
    searchable: true,
    triggerable: true,
    undeletable: true,
    updateable: true,
    urls: urls(def, version),
  }
}

function describe (def: SObjectDef, version: string, baseUrl: string): Record<string, unknown> {
  return {
    ...globalView(def, version),
    childRelationships: [],
    fields: def.fields.map(f => ({
      name: f.name,
      label: f.label,
      type: f.type,
      length: f.length,
      nillable: f.nillable,
      createable: f.createable,
      updateable: f.updateable,
      defaultedOnCreate: ['Id', 'IsDeleted', 'OwnerId', 'CreatedDate', 'CreatedById', 'LastModifiedDate', 'SystemModstamp'].includes(f.name),
      defaultValue: null,
      custom: false,
      calculated: false,
      externalId: false,
      unique: false,
      filterable: true,
      sortable: f.type !== 'textarea',
      idLookup: f.name === 'Id',
      referenceTo: f.referenceTo ?? [],
      relationshipName: f.relationshipName ?? null,
      picklistValues: [],
      soapType: f.type === 'boolean' ? 'xsd:boolean' : f.type === 'int' ? 'xsd:int' : f.type === 'currency' ? 'xsd:double' : f.type === 'datetime' ? 'xsd:dateTime' : f.type === 'id' || f.type === 'reference' ? 'tns:ID' : 'xsd:string',
    })),
    recordTypeInfos: [],
    urls: {
      ...urls(def, version),
      uiDetailTemplate: `${baseUrl}/{ID}`,
      uiEditTemplate: `${baseUrl}/{ID}/e`,
      uiNewRecord: `${baseUrl}/${def.keyPrefix}/e`,
    },
  }
}

function asObject (body: unknown): Record<string, unknown> | undefined {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? body as Record<string, unknown> : undefined
}

const BAD_BODY = fail(400, { message: 'The request body must be a JSON object', errorCode: 'JSON_PARSER_ERROR' })

export function createAnswer (org: SimOrgState, userId: string, def: SObjectDef, body: unknown): Answer {
  const values = asObject(body)
  if (!values) return BAD_BODY
  const error = writeError(def, values, true)
  if (error) return fail(400, error)
  const row = insertRecord(org, def, canonicalValues(def, values), userId)
  return { status: 201, body: { id: row.Id, success: true, errors: [] } }
}

function rowAnswer (org: SimOrgState, def: SObjectDef, id: string, method: string, body: unknown, search: URLSearchParams, version: string): Answer {
  const row = findRecord(org, def, id)
  if (!row) return { status: 404, body: NOT_FOUND }
  if (row.IsDeleted === true) return { status: 404, body: DELETED }
  if (method === 'DELETE') {
    deleteRecord(row, orgNow(org))
    return { status: 204 }
  }
  if (method === 'PATCH') {
    const values = asObject(body)
    if (!values) return BAD_BODY
    const error = writeError(def, values, false)
    if (error) return fail(400, error)
    updateRecord(def, row, canonicalValues(def, values), orgNow(org))
    return { status: 204 }
  }
  const fieldsParam = search.get('fields')
  let fields: string[] | undefined
  if (fieldsParam !== null) {
    fields = []
    for (const requested of fieldsParam.split(',').map(f => f.trim()).filter(Boolean)) {
      const field = fieldOf(def, requested)
      if (!field) return fail(400, { message: `No such column '${requested}' on sobject of type ${def.name}`, errorCode: 'INVALID_FIELD' })
      fields.push(field.name)
    }
  }
  return { status: 200, body: recordView(def, row, version, fields) }
}

function notAllowed (method: string, allowed: string): Answer {
  return fail(405, { message: `HTTP Method '${method}' not allowed. Allowed are ${allowed}`, errorCode: 'METHOD_NOT_ALLOWED' })
}

/**
 * One sObject request: `parts` is the path after /sobjects, `body` the parsed JSON body (or
 * undefined). Used for direct calls and for composite subrequests alike.
 */
export function sobjectsAnswer (
  org: SimOrgState, userId: string, method: string, parts: string[], search: URLSearchParams, body: unknown, version: string, baseUrl: string
): Answer {
  if (parts.length === 0) {
    if (method !== 'GET') return notAllowed(method, 'GET,HEAD')
    return { status: 200, body: { encoding: 'UTF-8', maxBatchSize: 200, sobjects: SOBJECTS.map(d => globalView(d, version)) } }
  }
  const def = sobjectDef(parts[0])
  if (!def || parts.length > 3) return { status: 404, body: NOT_FOUND }
  if (parts.length === 1) {
    if (method === 'POST') return createAnswer(org, userId, def, body)
    if (method !== 'GET') return notAllowed(method, 'GET,HEAD,POST')
    return { status: 200, body: { objectDescribe: globalView(def, version), recentItems: [] } }
  }
  if (parts.length === 2 && parts[1] === 'describe') {
    if (method !== 'GET') return notAllowed(method, 'GET,HEAD')
    return { status: 200, body: describe(def, version, baseUrl) }
  }
  if (parts.length === 2 && ['GET', 'PATCH', 'DELETE'].includes(method)) return rowAnswer(org, def, parts[1], method, body, search, version)
  if (parts.length === 2) return notAllowed(method, 'GET,HEAD,PATCH,DELETE')
  return { status: 404, body: NOT_FOUND }
}
