import type { IncomingMessage, ServerResponse } from 'node:http'
import { CsvRecordSplitter, csvLine, parseCsvRecord } from './csv-stream.ts'
import { readBody, sendEmpty, sendJson, sendText } from './http.ts'
import { newSalesforceId } from './ids.ts'
import {
  deleteRecord, fieldOf, findRecord, insertRecord, recordsOf, sfDateTime, sobjectDef, updateRecord, type SObjectDef,
} from './records.ts'
import { canonicalValues, writeError } from './sobjects.ts'
import { orgNow } from './org-state.ts'
import type { SimOrgState } from './types.ts'

/**
 * Bulk API 2.0 ingest (Bulk API 2.0 and Bulk API Developer Guide: "Create a Job", "Upload Job
 * Data", "Close or Abort a Job", "Get Information About an Ingest Job", "Get Job Successful Record
 * Results", "Get Job Failed Record Results", "Get Job Unprocessed Record Results", "Delete a Job",
 * "Job States"):
 *   POST  jobs/ingest                      { object, operation, externalIdFieldName?, lineEnding?, columnDelimiter? } → job, state Open
 *   PUT   jobs/ingest/{id}/batches         text/csv → 201, no body (one upload per job)
 *   PATCH jobs/ingest/{id}                 { state: UploadComplete | Aborted }
 *   GET   jobs/ingest/{id}                 job info: UploadComplete → InProgress → JobComplete (or Failed)
 *   GET   jobs/ingest/{id}/successfulResults | failedResults | unprocessedrecords   CSV
 *   GET   jobs/ingest                      every job;  DELETE jobs/ingest/{id} → 204
 * The upload is read as it streams and counted in full (numberRecordsProcessed), but only the
 * first KEPT_ROWS records are applied to the org and listed in the result files: a 100 MB upload
 * costs the simulator no more memory than a small one. An upload is limited to 150 MB of base64,
 * about 112 MB of CSV ("Upload Job Data"). The job is processed when it is closed; the first
 * poll afterwards answers InProgress, the next JobComplete, so clients' polling loops run.
 * Errors are [{ errorCode, message }]; the codes are Bulk API's, some words are the simulator's.
 */

export const KEPT_ROWS = 10_000
const MAX_UPLOAD_BYTES = Math.floor(150 * 1024 * 1024 * 3 / 4)
const DELIMITERS: Record<string, string> = { COMMA: ',', TAB: '\t', PIPE: '|', SEMICOLON: ';', CARET: '^', BACKQUOTE: '`' }
const OPERATIONS = ['insert', 'update', 'upsert', 'delete', 'hardDelete']

interface Job {
  id: string
  object: string
  operation: string
  externalIdFieldName?: string
  lineEnding: string
  columnDelimiter: string
  apiVersion: string
  createdById: string
  createdDate: string
  systemModstamp: string
  state: 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted'
  upload?: CsvRecordSplitter
  processed: number
  failed: number
  errorMessage?: string
  successful: string[]
  failures: string[]
  header: string[]
  pollsBeforeDone: number
}

const jobs = new WeakMap<SimOrgState, Map<string, Job>>()

function jobsOf (org: SimOrgState): Map<string, Job> {
  let map = jobs.get(org)
  if (!map) jobs.set(org, map = new Map())
  return map
}

const bulkError = (errorCode: string, message: string): Array<{ errorCode: string, message: string }> => [{ errorCode, message }]

function jobInfo (job: Job, full: boolean): Record<string, unknown> {
  const base: Record<string, unknown> = {
    id: job.id,
    operation: job.operation,
    object: job.object,
    createdById: job.createdById,
    createdDate: job.createdDate,
    systemModstamp: job.systemModstamp,
    state: job.state,
    ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.apiVersion),
    ...(job.state === 'Open' ? { contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches` } : {}),
    lineEnding: job.lineEnding,
    columnDelimiter: job.columnDelimiter,
  }
  if (!full) return base
  const done = job.state === 'JobComplete' || job.state === 'Failed'
  return {
    ...base,
    jobType: 'V2Ingest',
    numberRecordsProcessed: done ? job.processed : 0,
    numberRecordsFailed: done ? job.failed : 0,
    retries: 0,
    totalProcessingTime: 0,
    apiActiveProcessingTime: 0,
    apexProcessingTime: 0,
    ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
  }
}

function createJob (org: SimOrgState, userId: string, version: string, body: unknown): { status: number, body: unknown } {
  const { object, operation, externalIdFieldName, lineEnding = 'LF', columnDelimiter = 'COMMA', contentType = 'CSV' } = (body ?? {}) as Record<string, unknown>
  if (typeof operation !== 'string' || !OPERATIONS.includes(operation)) return { status: 400, body: bulkError('INVALIDJOB', 'InvalidJob : Invalid operation') }
  const def = typeof object === 'string' ? sobjectDef(object) : undefined
  if (!def) return { status: 400, body: bulkError('INVALIDJOB', `InvalidJob : sObject type '${String(object)}' is not supported`) }
  if (contentType !== 'CSV' || (lineEnding !== 'LF' && lineEnding !== 'CRLF') || typeof columnDelimiter !== 'string' || !DELIMITERS[columnDelimiter]) {
    return { status: 400, body: bulkError('INVALIDJOB', 'InvalidJob : contentType, lineEnding or columnDelimiter is not valid') }
  }
  if (operation === 'upsert' && (typeof externalIdFieldName !== 'string' || !fieldOf(def, externalIdFieldName))) {
    return { status: 400, body: bulkError('INVALIDJOB', 'InvalidJob : External ID was blank or not an indexed field for upsert') }
  }
  const now = sfDateTime(orgNow(org))
  const job: Job = {
    id: newSalesforceId('750'),
    object: def.name,
    operation,
    externalIdFieldName: operation === 'upsert' ? fieldOf(def, externalIdFieldName as string)?.name : undefined,
    lineEnding,
    columnDelimiter,
    apiVersion: version,
    createdById: userId,
    createdDate: now,
    systemModstamp: now,
    state: 'Open',
    processed: 0,
    failed: 0,
    successful: [],
    failures: [],
    header: [],
    pollsBeforeDone: 1,
  }
  jobsOf(org).set(job.id, job)
  return { status: 200, body: jobInfo(job, false) }
}

/** Reads the CSV as it arrives; the answer waits for the whole body, as Salesforce's 201 does. */
async function upload (job: Job, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  if (job.state !== 'Open' || job.upload) {
    req.resume()
    const message = job.state === 'Open' ? `Found multiple contents for job: <${job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure the content is uploaded only once` : 'Job is not in the Open state'
    return sendJson(res, 409, bulkError('INVALIDJOBSTATE', message), headers)
  }
  const splitter = new CsvRecordSplitter(KEPT_ROWS + 1)
  let bytes = 0
  for await (const chunk of req) {
    bytes += (chunk as Buffer).length
    if (bytes <= MAX_UPLOAD_BYTES) splitter.push(chunk as Buffer)
  }
  if (bytes > MAX_UPLOAD_BYTES) return sendJson(res, 400, bulkError('INVALIDBATCH', 'InvalidBatch : Job data exceeds the upload limit of 150 MB (base64)'), headers)
  splitter.end()
  job.upload = splitter
  res.writeHead(201, { 'content-length': 0, ...headers })
  res.end()
}

function failJob (job: Job, message: string): void {
  job.state = 'Failed'
  job.errorMessage = message
}

function processRow (org: SimOrgState, job: Job, def: SObjectDef, values: Record<string, string | null>, userId: string): { id: string, created?: boolean } | string {
  const idValue = Object.entries(values).find(([k]) => k.toLowerCase() === 'id')?.[1] ?? null
  const fields = Object.fromEntries(Object.entries(values).filter(([k]) => k.toLowerCase() !== 'id'))
  if (job.operation === 'delete' || job.operation === 'hardDelete') {
    const row = idValue ? findRecord(org, def, idValue) : undefined
    if (!row || row.IsDeleted === true) return 'ENTITY_IS_DELETED:entity is deleted:--'
    deleteRecord(row, orgNow(org))
    return { id: row.Id as string }
  }
  let existing = idValue ? findRecord(org, def, idValue) : undefined
  if (job.operation === 'upsert' && job.externalIdFieldName && job.externalIdFieldName !== 'Id') {
    const key = values[job.externalIdFieldName] ?? null
    existing = key === null ? undefined : recordsOf(org, def).find(r => String(r[job.externalIdFieldName as string]) === key)
  }
  const creating = job.operation === 'insert' || (job.operation === 'upsert' && !existing)
  const error = writeError(def, fields, creating)
  if (error) return `${error.errorCode}:${error.message}:${(error.fields ?? []).join(',')} --`
  if (creating) return { id: insertRecord(org, def, canonicalValues(def, fields), userId).Id as string, created: true }
  if (!existing || existing.IsDeleted === true) return 'INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--'
  updateRecord(def, existing, canonicalValues(def, fields), orgNow(org))
  return { id: existing.Id as string, created: false }
}

/** UploadComplete: the kept rows are applied to the org and the result files written. */
function processJob (org: SimOrgState, job: Job): void {
  const def = sobjectDef(job.object) as SObjectDef
  const upload = job.upload
  if (!upload || upload.count === 0) return failJob(job, 'InvalidBatch : Failed to parse CSV. Found no data.')
  if (upload.overlong) return failJob(job, 'InvalidBatch : Failed to parse CSV. A record is too large or has an unterminated quote.')
  const delimiter = DELIMITERS[job.columnDelimiter]
  const [headerLine, ...rows] = upload.kept
  job.header = parseCsvRecord(headerLine, delimiter)
  for (const column of job.header) {
    if (!fieldOf(def, column)) return failJob(job, `InvalidBatch : Field name not found : ${column}`)
  }
  for (const line of rows) {
    const cells = parseCsvRecord(line, delimiter)
    // '#N/A' sets a field to null (Bulk API 2.0, "Prepare CSV Files")
    const values = Object.fromEntries(job.header.map((h, i) => [h, cells[i] === '#N/A' || cells[i] === '' || cells[i] === undefined ? null : cells[i]]))
    const outcome = processRow(org, job, def, values, job.createdById)
    if (typeof outcome === 'string') {
      job.failed++
      job.failures.push(csvLine([values.Id ?? '', outcome, ...cells]))
    } else {
      job.successful.push(csvLine([outcome.id, outcome.created ?? false, ...cells]))
    }
  }
  job.processed = upload.count - 1
  job.state = 'JobComplete'
}

function results (job: Job, kind: string): string | undefined {
  const header = job.header.length > 0 ? job.header : job.upload?.kept[0] ? parseCsvRecord(job.upload.kept[0], DELIMITERS[job.columnDelimiter]) : []
  if (kind === 'successfulResults') return [csvLine(['sf__Id', 'sf__Created', ...header]), ...job.successful].join('\n') + '\n'
  if (kind === 'failedResults') return [csvLine(['sf__Id', 'sf__Error', ...header]), ...job.failures].join('\n') + '\n'
  if (kind === 'unprocessedrecords') return csvLine(header) + '\n'
  return undefined
}

/** `parts` is the path after jobs/ingest. */
export async function handleBulkIngest (
  org: SimOrgState, userId: string, req: IncomingMessage, res: ServerResponse, parts: string[], version: string, headers: Record<string, string>
): Promise<void> {
  const method = req.method ?? 'GET'
  const json = (status: number, body: unknown): void => sendJson(res, status, body, headers)
  if (parts.length === 0) {
    if (method === 'POST') {
      let body: unknown
      try {
        body = JSON.parse(await readBody(req))
      } catch {
        return json(400, bulkError('JSON_PARSER_ERROR', 'Unexpected character in the request body'))
      }
      const answer = createJob(org, userId, version, body)
      return json(answer.status, answer.body)
    }
    if (method === 'GET') return json(200, { done: true, records: [...jobsOf(org).values()].map(j => jobInfo(j, false)), nextRecordsUrl: null })
    return json(405, bulkError('METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,POST`))
  }
  const job = jobsOf(org).get(parts[0])
  if (!job || parts.length > 2) {
    req.resume()
    return json(404, bulkError('NOT_FOUND', 'The requested resource does not exist'))
  }
  if (parts.length === 2 && parts[1] === 'batches' && method === 'PUT') return upload(job, req, res, headers)
  if (parts.length === 2 && method === 'GET') {
    if (job.state !== 'JobComplete' && job.state !== 'Failed') return json(409, bulkError('INVALIDJOBSTATE', 'The job has not completed processing yet'))
    const csv = results(job, parts[1])
    if (csv === undefined) return json(404, bulkError('NOT_FOUND', 'The requested resource does not exist'))
    return sendText(res, 200, 'text/csv', csv, headers)
  }
  if (parts.length === 2) return json(404, bulkError('NOT_FOUND', 'The requested resource does not exist'))
  if (method === 'GET') {
    const final = job.state
    if ((final === 'JobComplete' || final === 'Failed') && job.pollsBeforeDone > 0) {
      job.pollsBeforeDone--
      return json(200, { ...jobInfo(job, true), state: 'InProgress', numberRecordsProcessed: 0, numberRecordsFailed: 0 })
    }
    return json(200, jobInfo(job, true))
  }
  if (method === 'DELETE') {
    if (job.state === 'Open' || job.state === 'InProgress') return json(409, bulkError('INVALIDJOBSTATE', 'The job can be deleted only once it is closed, aborted, complete or failed'))
    jobsOf(org).delete(job.id)
    return sendEmpty(res, 204, headers)
  }
  if (method !== 'PATCH') return json(405, bulkError('METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,DELETE`))
  let state: unknown
  try {
    state = (JSON.parse(await readBody(req)) as { state?: unknown }).state
  } catch {
    return json(400, bulkError('JSON_PARSER_ERROR', 'Unexpected character in the request body'))
  }
  if (state !== 'UploadComplete' && state !== 'Aborted') return json(400, bulkError('INVALIDJOBSTATE', 'The state must be UploadComplete or Aborted'))
  if (job.state !== 'Open') return json(409, bulkError('INVALIDJOBSTATE', 'Job is not in the Open state'))
  job.systemModstamp = sfDateTime(orgNow(org))
  if (state === 'Aborted') {
    job.state = 'Aborted'
    return json(200, jobInfo(job, false))
  }
  processJob(org, job)
  // the close answers the state it asked for; processing shows on the next polls
  return json(200, { ...jobInfo(job, false), state: 'UploadComplete' })
}
