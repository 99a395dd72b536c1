import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { HealthReporter } from '../health/health-report.ts'
import { summarize } from '../health/schemas.ts'
import type { Notifier } from '../notifications/notifier.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { renderStatusPage, STATUS_PAGE_CSP } from './status-page.ts'

export interface StatusRoutesOptions {
  reporter: HealthReporter
  notifier: Pick<Notifier, 'recent'>
  /** HEALTH_DETAILS=public: everybody gets the details, not only admins */
  publicDetails?: boolean
  /** how often the page reloads itself */
  refreshSeconds?: number
}

/** How many recent events are read for the page (then at most five per connection are shown). */
const RECENT_EVENTS = 200

/**
 * GET /status: the health report as a page a person reads, on a phone too. The same data and
 * the same rule as GET /health/salesforce: statuses for anybody, the details for an admin
 * credential (or HEALTH_DETAILS=public).
 */
const statusRoutes: FastifyPluginAsyncTypebox<StatusRoutesOptions> = async (app, opts) => {
  const refreshSeconds = opts.refreshSeconds ?? 30
  app.get('/status', {
    config: { auth: 'optional' },
    schema: {
      tags: ['health'],
      operationId: 'getStatusPage',
      security: [{}, { bearer: [] }],
      summary: 'Status page: every connection\'s health as HTML (reloads itself)',
      description: `Server-rendered HTML, no script; reloads every ${refreshSeconds} s. Per connection: status, last success, failure class and hint, flow sunset countdown, certificate expiry, login budget, failed logins, recent events. Without an admin credential only the statuses (as GET /health/salesforce), unless HEALTH_DETAILS=public.`,
      response: {
        200: { description: 'The page', content: { 'text/html': { schema: Type.String() } } },
        ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'rate_limited', 'secret_store_unavailable'),
      },
    },
  }, async (request, reply) => {
    const report = await opts.reporter.report()
    const detailed = opts.publicDetails === true || request.principal?.kind === 'admin'
    const view = detailed
      ? { detailed, ...report, events: await opts.notifier.recent(RECENT_EVENTS).catch(() => []) }
      : { detailed, ...summarize(report) }
    reply
      .header('cache-control', 'no-store')
      .header('content-security-policy', STATUS_PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
    return renderStatusPage(view, { refreshSeconds, now: Date.now() })
  })
}

export default statusRoutes
