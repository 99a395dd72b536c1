import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { DeadLetterSchema, type DeadLetters } from '../notifications/dead-letters.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'

export interface NotificationRoutesOptions {
  deadLetters: DeadLetters
}

const DeadLetterPage = Type.Object({
  deadLetters: Type.Array(DeadLetterSchema),
  next: Type.Optional(Type.String({ description: 'Pass as `before` for the next (older) page; absent on the last page' })),
}, { additionalProperties: false })

/** What became of the webhooks: the events no receiver took (admin). */
const notificationRoutes: FastifyPluginAsyncTypebox<NotificationRoutesOptions> = async (app, opts) => {
  app.get('/v1/admin/notifications/dead-letters', {
    // read-only, like the audit: the viewer role (src/auth/roles.ts)
    config: { auth: 'admin', role: 'viewer' },
    schema: {
      tags: ['admin'],
      security: [{ bearer: [] }],
      operationId: 'listNotificationDeadLetters',
      summary: 'Webhook events no receiver took after every attempt, newest first',
      description: 'Kept fleet-wide in a list capped at WEBHOOK_DEAD_LETTER_MAX. Each names the receiver by the origin and a hash of its URL (never the URL: its path may be a token), the attempts made and the last error (an HTTP status, a timeout, a refused connection), with the event as it would have been sent.',
      querystring: Type.Object({
        limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: '1 to 1000, default 100' })),
        before: Type.Optional(Type.String({ pattern: '^[0-9]{1,20}(-[0-9]{1,20})?$', description: 'The `next` of the previous page' })),
      }, { additionalProperties: false }),
      response: {
        200: { description: 'Dead letters', content: { 'application/json': { schema: DeadLetterPage } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'rate_limited'),
      },
    },
  }, async (request, reply) => {
    const limit = Number(request.query.limit ?? 100)
    const deadLetters = await opts.deadLetters.list(limit, request.query.before)
    reply.header('cache-control', 'no-store').type('application/json')
    const last = deadLetters.at(-1)
    return { deadLetters, ...(deadLetters.length === limit && last ? { next: last.id } : {}) }
  })
}

export default notificationRoutes
