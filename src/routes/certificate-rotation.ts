import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { CertificateRotation } from '../admin/certificate-rotation.ts'
import { ConnectionNameParams } from '../schemas/common.ts'
import { MigrationCompletedSchema, MigrationValidationSchema } from '../schemas/migration.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { adminContext, SwitchIfMatchHeaders } from './admin-request.ts'

export interface CertificateRotationRoutesOptions {
  rotation: CertificateRotation
}

const READ_PROBLEMS = [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'secret_store_unavailable'] as const
const migration = { content: { 'application/json': { schema: { $ref: 'Migration#' } } } }

/**
 * A new key and certificate for a JWT bearer connection (README "Certificate rotation"): start,
 * upload the certificate to the app, and the broker switches by itself at the next login the old
 * key is refused for — or validate and complete at once. A rotation is a migration to the same
 * flow: GET …/migration shows it too.
 */
const certificateRotationRoutes: FastifyPluginAsyncTypebox<CertificateRotationRoutesOptions> = async (app, { rotation }) => {
  const base = { config: { auth: 'admin' as const } }
  const viewer = { config: { auth: 'admin' as const, role: 'viewer' as const } }
  const tags = ['admin']
  const security = [{ bearer: [] }]
  const path = '/v1/admin/connections/:name/certificate-rotation'

  app.post(path, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'startCertificateRotation',
      summary: 'Start a key and certificate rotation of a jwt_bearer connection (nothing switches yet)',
      description: 'A new RSA key in JWT_KEY_CUSTODY (a secret field of the pending definition, or a Vault Transit key) and its self-signed certificate, valid JWT_CERT_VALIDITY_DAYS. Upload the certificate to the app ("Use digital signatures"): from then on Salesforce refuses the current key, and the first login it refuses is made again with the new key, whose success completes the rotation (no failed session request). 409 when the connection is not on jwt_bearer or something is pending already.',
      params: ConnectionNameParams,
      response: { 201: { description: 'Started', ...migration }, ...problemResponses(...READ_PROBLEMS, 'conflict') },
    },
  }, async (request, reply) => {
    const view = await rotation.start(request.params.name, adminContext(request))
    reply.code(201).type('application/json')
    return view
  })

  app.get(path, {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'getCertificateRotation',
      summary: 'The pending rotation: new certificate, checklist (never a secret)',
      params: ConnectionNameParams,
      response: { 200: { description: 'Pending', ...migration }, ...problemResponses(...READ_PROBLEMS) },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotation.get(request.params.name)
  })

  app.get(`${path}/certificate`, {
    ...viewer,
    schema: {
      tags,
      security,
      operationId: 'getCertificateRotationCertificate',
      summary: 'The new certificate to upload to the app ("Use digital signatures"), as a PEM file',
      params: ConnectionNameParams,
      response: { 200: { description: 'PEM certificate', content: { 'application/x-pem-file': { schema: Type.String() } } }, ...problemResponses(...READ_PROBLEMS) },
    },
  }, async (request, reply) => {
    const pem = await rotation.certificate(request.params.name)
    reply.type('application/x-pem-file').header('content-disposition', `attachment; filename="${request.params.name}.crt"`)
    return pem
  })

  app.post(`${path}/validate`, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'validateCertificateRotation',
      summary: 'One guarded login with the new key: the classified result and the next step',
      description: 'invalid_assertion means Salesforce still holds the old certificate: upload the new one. The login goes through the login gate like every other.',
      params: ConnectionNameParams,
      response: { 200: { description: 'The login outcome and what to do next', content: { 'application/json': { schema: MigrationValidationSchema } } }, ...problemResponses(...READ_PROBLEMS, 'conflict', 'login_guarded', 'login_budget_exhausted', 'login_wait_timeout') },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotation.validate(request.params.name, adminContext(request))
  })

  app.post(`${path}/complete`, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'completeCertificateRotation',
      summary: 'Switch to the new key now (after a successful validate); the old version stays for rollback',
      description: 'Check-and-set on the current version (If-Match), sessions purged on every replica (revoked with REVOKE_ON_ROTATION). Not needed when a login already completed the rotation (GET then answers 404 and the connection shows the new certificate).',
      params: ConnectionNameParams,
      headers: SwitchIfMatchHeaders,
      response: {
        200: { description: 'Switched', content: { 'application/json': { schema: MigrationCompletedSchema } } },
        202: { description: 'Switched; the fleet-wide purge of the old sessions is pending (see `connection.pending`)', content: { 'application/json': { schema: MigrationCompletedSchema } } },
        ...problemResponses(...READ_PROBLEMS, 'conflict'),
      },
    },
  }, async (request, reply) => {
    const done = await rotation.complete(request.params.name, adminContext(request, request.headers['if-match']))
    reply.code(done.connection.pending?.length ? 202 : 200).header('etag', `"${done.connection.version}"`).type('application/json')
    return done
  })

  app.delete(path, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'abandonCertificateRotation',
      summary: 'Abandon the pending rotation (the connection keeps its key)',
      params: ConnectionNameParams,
      response: { 204: { description: 'Abandoned', type: 'null' }, ...problemResponses(...READ_PROBLEMS, 'conflict') },
    },
  }, async (request, reply) => {
    await rotation.abandon(request.params.name, adminContext(request))
    return reply.code(204).send(null)
  })
}

export default certificateRotationRoutes
