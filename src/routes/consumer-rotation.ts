import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ConsumerRotationService } from '../admin/consumer-rotation.ts'
import { DomainError } from '../errors.ts'
import { ConnectionNameParams } from '../schemas/common.ts'
import {
  ConsumerPolicySchema, ConsumerValidationSchema, StartConsumerRotationSchema, ValidateConsumerRotationSchema,
} from '../schemas/consumer-rotation.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { optionalBody } from './optional-body.ts'
import { adminContext, SwitchIfMatchHeaders } from './admin-request.ts'

export interface ConsumerRotationRoutesOptions {
  rotations: ConsumerRotationService
}

const READ_PROBLEMS = [...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'not_found', 'rate_limited', 'secret_store_unavailable'] as const
const LOGIN_PROBLEMS = ['conflict', 'login_guarded', 'login_budget_exhausted', 'login_wait_timeout', 'salesforce_unavailable', 'salesforce_login_failed', 'circuit_open'] as const
const rotation = { content: { 'application/json': { schema: { $ref: 'ConsumerRotation#' } } } }

/**
 * Rotating a connection's consumer key and secret without a failed request (README "Consumer-secret
 * rotation"): start (stage), validate, complete (switch, then promote and delete at Salesforce),
 * verify (Setup mode), run (all at once), abandon; and the rotation policy (appId, rotateEveryDays).
 */
const consumerRotationRoutes: FastifyPluginAsyncTypebox<ConsumerRotationRoutesOptions> = async (app, { rotations }) => {
  const base = { config: { auth: 'admin' as const } }
  const viewer = { config: { auth: 'admin' as const, role: 'viewer' as const } }
  const tags = ['admin']
  const security = [{ bearer: [] }]
  const path = '/v1/admin/connections/:name/consumer-rotation'

  app.post(path, {
    ...base,
    preValidation: optionalBody,
    schema: {
      tags,
      security,
      operationId: 'startConsumerRotation',
      summary: 'Start a consumer-secret rotation: stage a new consumer key and secret (nothing switches yet)',
      description: 'With an External Client App identifier (appId, or the policy\'s) and the rights (the connection\'s user has "External Client App Developer" and "View Client Secret", the app allows consumer secrets via REST API, a local app), the broker stages through Connect REST API: mode api. Otherwise mode setup: the answer says why and lists the Setup steps; the broker checks each.',
      params: ConnectionNameParams,
      body: StartConsumerRotationSchema,
      response: { 201: { description: 'Started', ...rotation }, ...problemResponses(...READ_PROBLEMS, 'bad_request', ...LOGIN_PROBLEMS) },
    },
  }, async (request, reply) => {
    const view = await rotations.start(request.params.name, request.body ?? {}, adminContext(request))
    reply.code(201).type('application/json')
    return view
  })

  app.get(path, {
    ...viewer,
    schema: { tags, security, operationId: 'getConsumerRotation', summary: 'The rotation under way: mode, step, Setup steps, next step (never a secret)', params: ConnectionNameParams, response: { 200: { description: 'Under way', ...rotation }, ...problemResponses(...READ_PROBLEMS) } },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotations.get(request.params.name)
  })

  app.post(`${path}/validate`, {
    ...base,
    preValidation: optionalBody,
    schema: {
      tags,
      security,
      operationId: 'validateConsumerRotation',
      summary: 'One guarded login with the staged consumer key and secret',
      description: 'Setup mode: the body brings the staged pair Setup showed (stored encrypted beside the connection first). The login goes through the login gate (failure guard, login budget).',
      params: ConnectionNameParams,
      body: ValidateConsumerRotationSchema,
      response: { 200: { description: 'The login outcome and what to do next', content: { 'application/json': { schema: ConsumerValidationSchema } } }, ...problemResponses(...READ_PROBLEMS, 'bad_request', ...LOGIN_PROBLEMS) },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    const { session: _session, ...answer } = await rotations.validate(request.params.name, request.body, adminContext(request))
    return answer
  })

  app.post(`${path}/complete`, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'completeConsumerRotation',
      summary: 'Switch the stored pair to the validated staged one, fleet-wide; API mode: then promote it and delete the old one at Salesforce',
      description: 'Check-and-set on the current version (If-Match), sessions purged on every replica. What could not be done at Salesforce after the switch is listed in `pending`; call again to retry it. A replica that did not confirm the purge within 2 s is listed there too (nothing to retry: it drops the old sessions when it hears of the purge).',
      params: ConnectionNameParams,
      headers: SwitchIfMatchHeaders,
      response: { 200: { description: 'Switched', ...rotation }, ...problemResponses(...READ_PROBLEMS, ...LOGIN_PROBLEMS) },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotations.complete(request.params.name, adminContext(request, request.headers['if-match']))
  })

  app.post(`${path}/verify`, {
    ...base,
    schema: { tags, security, operationId: 'verifyConsumerRotation', summary: 'Setup mode: one login with the old pair must be refused (it was deleted in Setup)', params: ConnectionNameParams, response: { 200: { description: 'Verified, or what is still pending', ...rotation }, ...problemResponses(...READ_PROBLEMS, ...LOGIN_PROBLEMS) } },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotations.verify(request.params.name, adminContext(request))
  })

  app.post(`${path}/run`, {
    ...base,
    preValidation: optionalBody,
    schema: {
      tags,
      security,
      operationId: 'runConsumerRotation',
      summary: 'Every step through the API in one call: stage, validate, switch, promote, delete the old pair',
      description: 'When Salesforce does not let the connection\'s user make the calls, the answer is the rotation in setup mode (step staged) with the Setup steps.',
      params: ConnectionNameParams,
      body: StartConsumerRotationSchema,
      response: { 200: { description: 'Done, or where it stopped', ...rotation }, ...problemResponses(...READ_PROBLEMS, 'bad_request', ...LOGIN_PROBLEMS) },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotations.run(request.params.name, request.body ?? {}, adminContext(request))
  })

  app.delete(path, {
    ...base,
    schema: { tags, security, operationId: 'abandonConsumerRotation', summary: 'Abandon the rotation before the switch (API mode: the staged pair is deleted at Salesforce)', params: ConnectionNameParams, response: { 204: { description: 'Abandoned', type: 'null' }, ...problemResponses(...READ_PROBLEMS, 'conflict', 'salesforce_unavailable') } },
  }, async (request, reply) => {
    await rotations.abandon(request.params.name, adminContext(request))
    return reply.code(204).send(null)
  })

  app.get(`${path}/policy`, {
    ...viewer,
    schema: { tags, security, operationId: 'getConsumerRotationPolicy', summary: 'The connection\'s rotation policy: External Client App identifier, rotateEveryDays', params: ConnectionNameParams, response: { 200: { description: 'Policy', content: { 'application/json': { schema: ConsumerPolicySchema } } }, ...problemResponses(...READ_PROBLEMS) } },
  }, async (request, reply) => {
    const policy = await rotations.policy(request.params.name)
    if (!policy) throw new DomainError('not_found', 'no consumer-rotation policy for this connection: PUT one with its appId', { connection: request.params.name })
    reply.type('application/json')
    return policy
  })

  app.put(`${path}/policy`, {
    ...base,
    schema: {
      tags,
      security,
      operationId: 'putConsumerRotationPolicy',
      summary: 'Set the External Client App identifier and, optionally, rotateEveryDays (the scheduler then rotates through the API)',
      params: ConnectionNameParams,
      body: Type.Object({ appId: ConsumerPolicySchema.properties.appId, rotateEveryDays: ConsumerPolicySchema.properties.rotateEveryDays }, { additionalProperties: false }),
      response: { 200: { description: 'Policy', content: { 'application/json': { schema: ConsumerPolicySchema } } }, ...problemResponses(...READ_PROBLEMS, 'bad_request') },
    },
  }, async (request, reply) => {
    reply.type('application/json')
    return rotations.setPolicy(request.params.name, request.body, adminContext(request))
  })
}

export default consumerRotationRoutes
