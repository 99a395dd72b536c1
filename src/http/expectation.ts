import type { IncomingMessage, Server, ServerResponse } from 'node:http'

const unmet = Symbol('sf-broker.unmetExpectation')
type Marked = IncomingMessage & { [unmet]?: true }

/**
 * A request whose Expect header asks for something other than 100-continue (RFC 9110 §10.1.1: the
 * server may answer 417). Without a 'checkExpectation' listener Node answers it itself, an empty 417
 * with no content type, before Fastify sees it: no problem+json, no request id, no access line.
 * Here it goes through Fastify's routing like any request, marked, and the app's first onRequest hook
 * refuses it (unmetExpectation) as problem+json.
 */
export function routeUnmetExpectations (server: Server, routing: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('checkExpectation', (req: Marked, res: ServerResponse) => {
    req[unmet] = true
    routing(req, res)
  })
}

/** Whether the request asked for an expectation the broker does not meet (routeUnmetExpectations). */
export function unmetExpectation (req: IncomingMessage): boolean {
  return (req as Marked)[unmet] === true
}
