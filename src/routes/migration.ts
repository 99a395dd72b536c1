import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { MigrationService } from '../admin/migration.ts'
import { ConnectionNameParams } from '../schemas/common.ts'
import { MigrationCompletedSchema, MigrationValidationSchema, StartMigrationSchema, ValidateMigrationSchema } from '../schemas/migration.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { optionalBody } from './optional-body.ts'
import { adminContext, SwitchIfMatchHeaders } from './admin-request.ts'

export interface MigrationRoutesOptions {
  migrations: MigrationService
}

const READ_PROBLEMS = [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'secret_store_unavailable'] as const
const migration = { content: { 'application/json': { schema: { $ref: 'Migration#' } } } }

/**
 * Moving a connection across Salesforce's retirement of password logins (README "Before
 * 2027-02-20"): start, validate, complete or abandon; the pending definition never serves.
 */
const migrationRoutes: FastifyPluginAsyncTypebox<MigrationRoutesOptions> = async (app, { migrations }) => {
  const base = { config: { auth: 'admin' as const } }
  const viewer = { config: { auth: 'admin' as const, role: 'viewer' as const } }
  const tags = ['admin']
  const security = [{ bearer: [] }]
  const path = '/v1/admin/connections/:name/migration'

  app.post(path, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'startMigration',
      summary: 'Start moving a connection to jwt_bearer or client_credentials (nothing switches yet)',
      description: 'jwt_bearer: the broker creates an RSA key (JWT_KEY_CUSTODY: a secret field of the connection, or inside Vault Transit) and a self-signed certificate valid JWT_CERT_VALIDITY_DAYS, and answers the certificate and the setup checklist. On a connection already on jwt_bearer this is a key and certificate rotation. client_credentials: loginUrl must be the org\'s My Domain. The pending definition is stored beside the connection, encrypted like it; the connection keeps serving as before.',
      params: ConnectionNameParams,
      body: StartMigrationSchema,
      response: { 201: { description: 'Started', ...migration }, ...problemResponses(...READ_PROBLEMS, 'conflict') },
    },
  }, async (request, reply) => {
    const view = await migrations.start(request.params.name, request.body, adminContext(request))
    reply.code(201).type('application/json')
    return view
  })

  app.get(path, {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'getMigration',
      summary: 'The pending migration: target, certificate, checklist (never a secret)',
      params: ConnectionNameParams,
      response: { 200: { description: 'Pending', ...migration }, ...problemResponses(...READ_PROBLEMS) },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return migrations.get(request.params.name)
  })

  app.get(`${path}/certificate`, {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'getMigrationCertificate',
      summary: 'The certificate to upload to the app ("Use digital signatures"), as a PEM file',
      params: ConnectionNameParams,
      response: { 200: { description: 'PEM certificate', content: { 'application/x-pem-file': { schema: Type.String() } } }, ...problemResponses(...READ_PROBLEMS) },
    },
  }, async (request, reply) => {
    const pem = await migrations.certificate(request.params.name)
    reply.type('application/x-pem-file').header('content-disposition', `attachment; filename="${request.params.name}.crt"`)
    return pem
  })

  app.post(`${path}/validate`, {
    ...base,
    preValidation: optionalBody,
    schema: {
      tags,
      security,
      operationId: 'validateMigration',
      summary: 'One guarded login with the pending definition: the classified result and the next step',
      description: 'The body may bring what Salesforce Setup gave since the start (consumer key, secret); it is stored in the pending definition first. The login goes through the login gate (lockout guard, login budget) like every other.',
      params: ConnectionNameParams,
      body: ValidateMigrationSchema,
      response: { 200: { description: 'The login outcome and what to do next', content: { 'application/json': { schema: MigrationValidationSchema } } }, ...problemResponses(...READ_PROBLEMS, 'conflict', 'login_guarded', 'login_budget_exhausted', 'login_wait_timeout') },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return migrations.validate(request.params.name, request.body, adminContext(request))
  })

  app.post(`${path}/complete`, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'completeMigration',
      summary: 'Switch the connection to the validated pending definition (the old version stays for rollback)',
      description: 'Only after a successful validate of the pending definition as it is now (409 otherwise). Writes it check-and-set on the current version (If-Match), purges the connection\'s sessions on every replica (revoked with REVOKE_ON_ROTATION) and removes the pending entry; the next session request makes the one login with the new flow, fleet-wide. Roll back with POST /v1/admin/connections/{name}/rollback {"version": previousVersion}.',
      params: ConnectionNameParams,
      headers: SwitchIfMatchHeaders,
      response: {
        200: { description: 'Switched', content: { 'application/json': { schema: MigrationCompletedSchema } } },
        202: { description: 'Switched; the fleet-wide purge of the old sessions is pending (see `connection.pending`)', content: { 'application/json': { schema: MigrationCompletedSchema } } },
        ...problemResponses(...READ_PROBLEMS, 'conflict'),
      },
    },
  }, async (request, reply) => {
    const done = await migrations.complete(request.params.name, adminContext(request, request.headers['if-match']))
    reply.code(done.connection.pending?.length ? 202 : 200).header('etag', `"${done.connection.version}"`).type('application/json')
    return done
  })

  app.delete(path, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'abandonMigration',
      summary: 'Abandon the pending migration (the connection is untouched)',
      description: '409 when a complete of the same migration is under way or done: one of the two happens, never both.',
      params: ConnectionNameParams,
      response: { 204: { description: 'Abandoned', type: 'null' }, ...problemResponses(...READ_PROBLEMS, 'conflict') },
    },
  }, async (request, reply) => {
    await migrations.abandon(request.params.name, adminContext(request))
    return reply.code(204).send(null)
  })
}

export default migrationRoutes
