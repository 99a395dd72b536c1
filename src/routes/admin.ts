import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ConnectionAdmin } from '../admin/connection-admin.ts'
import type { AuditLog } from '../admin/audit-log.ts'
import type { FlowSunsetPolicy } from '../admin/flow-sunset-policy.ts'
import { ConnectionNameParams } from '../schemas/common.ts'
import { AuditPageSchema, AuditQuerySchema } from '../schemas/audit.ts'
import { ConnectionDefinitionSchema, CredentialsPatchSchema, RollbackSchema, VersionSchema } from '../schemas/connection.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { HttpProblem } from '../errors.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import { optionalBody } from './optional-body.ts'
import { adminContext } from './admin-request.ts'

export interface AdminRoutesOptions {
  admin: ConnectionAdmin
  audit: AuditLog
  /** warns about (and after the date refuses) new connections on retired flows; absent = silent */
  flowSunsetPolicy?: FlowSunsetPolicy
}

const PutQuery = Type.Object({
  // query strings are text and the validator does not coerce: the literal words
  acceptRetiredFlow: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Create a soap or oauth_password connection even after Salesforce\'s announced end of the flow (refused with 503 flow_retired otherwise), and keep its session requests logging in after that date (kept with the connection; a PUT without it clears it)' })),
}, { additionalProperties: false })

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ pattern: '^((W/)?"?[0-9]{1,9}"?|\\*)$', description: 'Version last read (the ETag of GET); the write fails with 409 if the connection changed since. `*`: any current version (409 if the connection does not exist)' })),
})

const ValidateBody = Type.Union([Type.Partial(ConnectionDefinitionSchema, { additionalProperties: false }), Type.Null()], {
  description: 'Candidate fields, merged over the stored connection; no body validates the stored credentials',
})

/** time-second 60 of RFC 3339 §5.6 (a leap second), with its fraction, before the offset */
const LEAP_SECOND = /:60(\.[0-9]+)?(?=[Zz+-])/

/**
 * An RFC 3339 time of the audit query, in ms. Date.parse cannot read a leap second (…T23:59:60Z,
 * which RFC 3339 §5.6 allows): no record is stamped within one (toISOString never writes :60), so
 * it stands for the end of the second before it: `until` keeps that second's records, `since` starts
 * after them.
 */
function timeOf (value: string, bound: 'since' | 'until'): number {
  if (!LEAP_SECOND.test(value)) return Date.parse(value)
  const lastMs = Date.parse(value.replace(LEAP_SECOND, ':59.999'))
  return bound === 'since' ? lastMs + 1 : lastMs
}

const RevocationSchema = Type.Object({
  revoked: Type.Integer({ description: 'Sessions the broker held for the connection' }),
  confirmedBySalesforce: Type.Integer({ description: 'Of those, how many Salesforce confirmed revoked' }),
  pending: Type.Array(Type.String(), { description: 'What has not happened everywhere yet (empty: done)' }),
}, { additionalProperties: false })

const DeletionPendingSchema = Type.Object({
  pending: Type.Array(Type.String(), { description: 'What has not happened everywhere yet' }),
}, { additionalProperties: false })

const meta = { content: { 'application/json': { schema: { $ref: 'ConnectionMetadata#' } } } }
/**
 * A write or a validation logs in with the candidate first, through the login gate: its refusals, and
 * a login Salesforce did not judge (unreachable, LOGIN_RATE_EXCEEDED), are answered as for a session
 * (a candidate is no stored version: no circuit applies to it).
 */
const CANDIDATE_LOGIN_PROBLEMS = ['login_guarded', 'login_guard_unavailable', 'login_budget_exhausted', 'login_wait_timeout', 'salesforce_unavailable'] as const
const MUTATION_PROBLEMS = [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'rate_limited', 'conflict', 'credentials_rejected', 'permissions_missing', 'secret_store_unavailable', ...CANDIDATE_LOGIN_PROBLEMS] as const

/** Connection management for admin principals. Secrets go in; nothing but metadata comes out. */
const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, { admin, audit, flowSunsetPolicy }) => {
  const base = { config: { auth: 'admin' as const } }
  const viewer = { config: { auth: 'admin' as const, role: 'viewer' as const } }
  const operator = { config: { auth: 'admin' as const, role: 'operator' as const } }
  const tags = ['admin']
  const security = [{ bearer: [] }]

  app.get('/v1/admin/connections', {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'listConnections',
      summary: 'List connections (metadata only)',
      response: {
        200: { description: 'Every connection', content: { 'application/json': { schema: Type.Object({ connections: Type.Array(Type.Ref('ConnectionMetadata')) }, { additionalProperties: false }) } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'rate_limited', 'secret_store_unavailable'),
      },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return { connections: await admin.list() }
  })

  app.get('/v1/admin/connections/:name', {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'getConnection',
      summary: 'One connection (metadata only); ETag is the secret version',
      params: ConnectionNameParams,
      response: { 200: { description: 'The connection', ...meta }, ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'secret_store_unavailable') },
    },
  }, async (request, reply) => {
    const m = await admin.get(request.params.name)
    reply.header('etag', `"${m.version}"`).type('application/json')
    return m
  })

  app.put('/v1/admin/connections/:name', {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'putConnection',
      summary: 'Create or replace a connection (validated against Salesforce first)',
      description: 'Logs in with the candidate first. Rejected: 422 with the failure class and hint, nothing stored. Not judged (Salesforce unreachable, or LOGIN_RATE_EXCEEDED): 503 salesforce_unavailable or 429 login_budget_exhausted with Retry-After, nothing stored. Accepted: written with check-and-set, old cached sessions dropped, the fresh session cached, the circuit cleared. A soap or oauth_password connection is answered with `warnings` naming the day Salesforce retires its flow; after that day a new one is refused (503 flow_retired) unless `acceptRetiredFlow=true`, which is kept with the connection: without it, its session requests answer 503 flow_retired without a login after that day.',
      params: ConnectionNameParams,
      querystring: PutQuery,
      headers: IfMatchHeaders,
      body: ConnectionDefinitionSchema,
      response: {
        200: { description: 'Replaced', ...meta },
        202: { description: 'Replaced; the fleet-wide purge of old sessions is pending (Redis unreachable, or a live replica did not confirm it: see `pending`)', ...meta },
        201: { description: 'Created', ...meta },
        ...problemResponses(...MUTATION_PROBLEMS, 'flow_retired'),
      },
    },
  }, async (request, reply) => {
    const warnings = await flowSunsetPolicy?.(request.params.name, request.body.flow, request.query.acceptRetiredFlow === 'true') ?? []
    // the opt-out is kept with the connection: its session requests keep logging in after the date
    const definition = { ...request.body, ...(request.query.acceptRetiredFlow === 'true' ? { acceptRetiredFlow: true } : {}) } as ConnectionDefinition
    const { metadata, created } = await admin.put(request.params.name, definition, adminContext(request, request.headers['if-match']))
    reply.code(created ? 201 : metadata.pending ? 202 : 200).header('etag', `"${metadata.version}"`).type('application/json')
    return warnings.length > 0 ? { ...metadata, warnings } : metadata
  })

  app.patch('/v1/admin/connections/:name/credentials', {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'rotateCredentials',
      summary: 'Rotate part of the secret (e.g. the security token after a reset)',
      description: 'Logs in with the stored secret changed by the given fields first. Rejected: 422 with the failure class, the fields sent and a hint, nothing stored. Not judged (Salesforce unreachable, or LOGIN_RATE_EXCEEDED): 503 salesforce_unavailable or 429 login_budget_exhausted with Retry-After, nothing stored. Accepted: written with check-and-set, old sessions dropped fleet-wide (202 with `pending` when a replica has not confirmed).',
      params: ConnectionNameParams,
      headers: IfMatchHeaders,
      body: CredentialsPatchSchema,
      response: { 200: { description: 'Rotated', ...meta }, 202: { description: 'Rotated; the fleet-wide purge is pending (see `pending`)', ...meta }, ...problemResponses(...MUTATION_PROBLEMS, 'not_found') },
    },
  }, async (request, reply) => {
    const m = await admin.patchCredentials(request.params.name, request.body, adminContext(request, request.headers['if-match']))
    reply.code(m.pending ? 202 : 200).header('etag', `"${m.version}"`).type('application/json')
    return m
  })

  app.post('/v1/admin/connections/:name/validate', {
    ...base,
    preValidation: optionalBody,
    schema: {
      tags,
      security,
      operationId: 'validateConnection',
      summary: 'Validate candidate or stored credentials against Salesforce; stores nothing',
      params: ConnectionNameParams,
      body: ValidateBody,
      response: {
        200: { description: 'The login outcome (ok or a classified failure)', content: { 'application/json': { schema: { $ref: 'ValidationResult#' } } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'permissions_missing', 'secret_store_unavailable', ...CANDIDATE_LOGIN_PROBLEMS),
      },
    },
  }, async (request, reply) => {
    const body = request.body as Partial<ConnectionDefinition> | null
    reply.type('application/json')
    return admin.validate(request.params.name, body && Object.keys(body).length > 0 ? body : undefined, adminContext(request))
  })

  app.get('/v1/admin/connections/:name/versions', {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'listVersions',
      summary: 'Secret versions (metadata only)',
      params: ConnectionNameParams,
      response: {
        200: { description: 'Oldest first', content: { 'application/json': { schema: Type.Object({ versions: Type.Array(VersionSchema) }, { additionalProperties: false }) } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'secret_store_unavailable'),
      },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return { versions: await admin.versions(request.params.name) }
  })

  app.post('/v1/admin/connections/:name/rollback', {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'rollbackConnection',
      summary: 'Make an earlier version current again (validated like a rotation)',
      params: ConnectionNameParams,
      headers: IfMatchHeaders,
      body: RollbackSchema,
      response: { 200: { description: 'Rolled back: a new version with the old content', ...meta }, 202: { description: 'Rolled back; the fleet-wide purge is pending (see `pending`)', ...meta }, ...problemResponses(...MUTATION_PROBLEMS, 'not_found') },
    },
  }, async (request, reply) => {
    const m = await admin.rollback(request.params.name, request.body.version, adminContext(request, request.headers['if-match']))
    reply.code(m.pending ? 202 : 200).header('etag', `"${m.version}"`).type('application/json')
    return m
  })

  app.post('/v1/admin/connections/:name/sessions/revoke', {
    ...operator,
    schema: {
      tags,
      security,
      operationId: 'revokeSessions',
      summary: 'Kill switch: revoke every session of the connection at Salesforce and drop it fleet-wide',
      description: 'For a leaked session or a caller that must lose access now. Callers holding a revoked session get INVALID_SESSION_ID and ask again; the next request logs in once. Audited as sessions.revoke. 202 with `pending` when Redis is unreachable, or a live replica did not confirm the purge within 2 s, and other replicas may not have dropped their copies yet.',
      params: ConnectionNameParams,
      response: {
        200: { description: 'Revoked at Salesforce and purged everywhere', content: { 'application/json': { schema: RevocationSchema } } },
        202: { description: 'Revoked at Salesforce; the fleet-wide purge is pending (see `pending`)', content: { 'application/json': { schema: RevocationSchema } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'secret_store_unavailable'),
      },
    },
  }, async (request, reply) => {
    const result = await admin.revokeSessions(request.params.name, adminContext(request))
    reply.code(result.pending.length > 0 ? 202 : 200).type('application/json')
    return result
  })

  app.delete('/v1/admin/connections/:name', {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'deleteConnection',
      summary: 'Delete a connection: cached sessions purged and revoked, every version removed',
      description: '204 once every live replica confirmed dropping the connection\'s sessions; 202 with `pending` when Redis is unreachable or a replica did not confirm within 2 s (deleted and revoked at Salesforce all the same).',
      params: ConnectionNameParams,
      headers: IfMatchHeaders,
      response: {
        204: { description: 'Deleted', type: 'null' },
        202: { description: 'Deleted; the fleet-wide purge is pending (see `pending`)', content: { 'application/json': { schema: DeletionPendingSchema } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'conflict', 'secret_store_unavailable'),
      },
    },
  }, async (request, reply) => {
    const pending = await admin.remove(request.params.name, adminContext(request, request.headers['if-match']))
    if (pending.length > 0) return reply.code(202).type('application/json').send({ pending })
    return reply.code(204).send(null)
  })

  app.get('/v1/admin/audit', {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'listAuditEvents',
      summary: 'Admin actions or sessions handed out (session.issued), in a time range, page by page (never containing a secret or a token)',
      description: 'Two streams with their own retention: `admin` (every admin action) and `handouts` (every session handed out). Newest first by default; a SIEM pulls with `since` and `order=asc`, then follows `next` (opaque) until `more` is false, and keeps the last `next` to poll from later.',
      querystring: AuditQuerySchema,
      response: {
        200: { description: 'A page of audit events', content: { 'application/json': { schema: AuditPageSchema } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'rate_limited'),
      },
    },
  }, async (request, reply) => {
    const q = request.query
    const sinceMs = q.since === undefined ? undefined : timeOf(q.since, 'since')
    const untilMs = q.until === undefined ? undefined : timeOf(q.until, 'until')
    if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) {
      throw new HttpProblem('bad_request', 'until is before since', { errors: [{ path: 'querystring/until', message: 'must not be before since' }] })
    }
    reply.type('application/json')
    return audit.page({
      limit: Number(q.limit ?? 100),
      stream: q.stream,
      order: q.order,
      cursor: q.cursor,
      sinceMs,
      untilMs,
      connection: q.connection,
      actor: q.actor,
      action: q.action,
    })
  })
}

export default adminRoutes
