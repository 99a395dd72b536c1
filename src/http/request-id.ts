import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** A caller's x-request-id is kept when it is short and plain: it goes into logs and audit records as is. */
const ACCEPTABLE = /^[\w.:+=/-]{1,128}$/

/**
 * The request id (Fastify `genReqId`): the caller's `x-request-id` when it is acceptable, else a
 * random UUID. Ids are unique across replicas (they end up in audit records, which Fastify's
 * per-process counter `req-1`, `req-2`… is not), and a hostile header never reaches a log line.
 */
export function requestId (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && ACCEPTABLE.test(given) ? given : randomUUID()
}
