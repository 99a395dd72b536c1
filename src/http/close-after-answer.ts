import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { answerOn } from './socket-idle.ts'

export interface OpenConnections {
  /** Every answer not yet started says Connection: close, so its keep-alive connection ends with it. */
  closeAfterAnswers (): void
}

/**
 * The server's open connections, kept so that at shutdown the answers still being worked on can
 * close theirs: requests in flight finish, but their keep-alive connections must not hold
 * server.close() open until the keep-alive timeout. Kept per connection (one Set entry while it is
 * open), read once at shutdown: the onSend hook that checked a flag on every answer instead cost
 * the hot path a hook run per request (about 0.5 ms of CPU per 1,000 answers). Requests arriving
 * once shutdown has begun get Connection: close from Fastify itself (and a 503 from the broker).
 * A pipelined request still queued behind another has no socket yet; the answer before it closes
 * the connection.
 */
export function trackConnections (server: Server): OpenConnections {
  const open = new Set<Socket>()
  const track = (socket: Socket): void => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  }
  server.on('connection', track)
  // over TLS the answers are on the TLS socket, not the TCP one 'connection' gives
  server.on('secureConnection', track)
  return {
    closeAfterAnswers () {
      for (const socket of open) {
        const answer = answerOn(socket)
        if (answer !== undefined && answer.socket === socket && !answer.headersSent) answer.setHeader('connection', 'close')
      }
    },
  }
}
