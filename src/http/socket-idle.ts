import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** the answer a socket is carrying now: set for every request, read only when the socket goes quiet */
const answering = Symbol('sf-broker.answering')
type WatchedSocket = Socket & { [answering]?: ServerResponse }

/** Remembers, on the request's socket, the answer it carries (one property write per request). */
export function noteAnswer (response: ServerResponse): void {
  const socket = response.socket as WatchedSocket | null
  if (socket) socket[answering] = response
}

/**
 * What a connection on which nothing moved for SOCKET_IDLE_TIMEOUT_MS (Node's server timeout) does.
 * Node's default closes it whatever is happening on it, and so cut off a proxied call that
 * Salesforce took longer than that to answer (PROXY_UPSTREAM_TIMEOUT_MS allows 120 s; a slow SOQL
 * query or Apex REST call takes that): the caller saw its connection close with no answer at all.
 * With this listener Node leaves the decision here (lib/_http_server.js, socketOnTimeout):
 *   - the broker is still working on a request that has fully arrived and nothing waits to be
 *     written: kept; the broker's own limits end that wait (PROXY_UPSTREAM_TIMEOUT_MS,
 *     LOGIN_WAIT_TIMEOUT_MS) with an answer;
 *   - anything else is the caller's silence — an idle keep-alive connection, a request that stopped
 *     arriving, an answer the caller stopped reading — and the connection is closed, as before.
 */
export function closeIdleSocketsUnlessAnswering (server: Server): void {
  server.on('timeout', (socket: WatchedSocket) => {
    const response = socket[answering]
    const brokerAtWork = response !== undefined && response.socket === socket && !response.writableEnded &&
      response.req.complete && socket.writableLength === 0
    if (!brokerAtWork) socket.destroy()
  })
}
