import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** the answer a socket is carrying now: set for every request, read only when the socket goes quiet */
const answering = Symbol('sf-broker.answering')
/** when the answer was first found still being worked on by a quiet socket */
const keptSince = Symbol('sf-broker.keptSince')
type WatchedSocket = Socket & { [answering]?: ServerResponse }
type WatchedResponse = ServerResponse & { [keptSince]?: number }

/** Remembers, on the request's socket, the answer it carries (one property write per request). */
export function noteAnswer (response: ServerResponse): void {
  const socket = response.socket as WatchedSocket | null
  if (socket) socket[answering] = response
  // a pipelined request's answer gets the socket when the answers before it are done
  else response.once('socket', (s: WatchedSocket) => { s[answering] = response })
}

/** The answer the socket carries, or carried last (noteAnswer). */
export function answerOn (socket: Socket): ServerResponse | undefined {
  return (socket as WatchedSocket)[answering]
}

export interface IdleSocketOptions {
  /**
   * The longest the broker may work on an answer while its socket is quiet (a login wait, Salesforce's
   * time to answer, once more after a healed session): past it the socket is closed all the same, in
   * case a wait has no limit of its own.
   */
  workLimitMs: number
}

/**
 * What a connection on which nothing moved for SOCKET_IDLE_TIMEOUT_MS (Node's server timeout) does.
 * Node's default closes it whatever is happening on it, and so cut off a proxied call that
 * Salesforce took longer than that to answer (PROXY_UPSTREAM_TIMEOUT_MS allows 120 s; a slow SOQL
 * query or Apex REST call takes that): the caller saw its connection close with no answer at all.
 * With this listener Node leaves the decision here (lib/_http_server.js, socketOnTimeout):
 *   - the broker is still working on a request that has fully arrived and nothing waits to be
 *     written: kept, and looked at again after another quiet period (Node re-arms the timer only
 *     on socket activity), up to `workLimitMs`; the broker's own limits (PROXY_UPSTREAM_TIMEOUT_MS,
 *     LOGIN_WAIT_TIMEOUT_MS) end such a wait with an answer long before;
 *   - anything else is closed, as before: an idle keep-alive connection, a request whose body stopped
 *     arriving, an answer the caller stopped reading.
 */
export function closeIdleSocketsUnlessAnswering (server: Server, opts: IdleSocketOptions): void {
  server.on('timeout', (socket: WatchedSocket) => {
    const response = socket[answering] as WatchedResponse | undefined
    const brokerAtWork = response !== undefined && response.socket === socket && !response.writableEnded &&
      response.req.complete && socket.writableLength === 0
    if (!brokerAtWork) {
      socket.destroy()
      return
    }
    const now = Date.now()
    response[keptSince] ??= now
    if (now - response[keptSince] > opts.workLimitMs) {
      socket.destroy()
      return
    }
    socket.setTimeout(server.timeout)
  })
}
