import type { Logger } from 'pino'
import { tlsFailureOf } from '../tls-failure.ts'

/**
 * Redis's own "no", not the network's: a wrong password or ACL user (AUTH answers WRONGPASS; a
 * command without AUTH, NOAUTH; an ACL user without the right, NOPERM) or a TLS handshake one side
 * refused (Node's ERR_SSL_* for a TLS alert the server sent, such as "certificate required";
 * ERR_TLS_* and OpenSSL's verification codes for a server certificate the broker refused).
 * Retrying does not change such an answer: a starting replica stops waiting for it (firstConnect).
 * A Redis Cluster client reports "Failed to refresh slots cache." with the last node's own error
 * beside it (`lastNodeError`, ioredis lib/errors/ClusterAllFailedError.ts): that one is looked at.
 */
// anywhere in the message: with Sentinel, ioredis reports "All sentinels are unreachable. … Last error: WRONGPASS …"
const REFUSED_REPLY = /\b(WRONGPASS|NOAUTH|NOPERM)\b/

type RedisError = Error & { code?: unknown, lastNodeError?: unknown }

export function isRedisRefusal (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const node = lastNodeError(err)
  return refused(err) || (node !== undefined && refused(node))
}

function refused (err: RedisError): boolean {
  if (REFUSED_REPLY.test(err.message)) return true
  const code = typeof err.code === 'string' ? err.code : ''
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || tlsFailureOf(code) === 'certificate'
}

/** What an operator needs to read: a Cluster's "Failed to refresh slots cache." says nothing without the node's answer. */
export function redisReason (err: RedisError): string {
  const node = lastNodeError(err)
  return node ? `${err.message} Last node error: ${node.message}` : err.message
}

function lastNodeError (err: RedisError): RedisError | undefined {
  return err.lastNodeError instanceof Error ? err.lastNodeError : undefined
}

/** Where a refusal was heard: the connection (AUTH), a read of a key, a write (the roll's heartbeat), the subscription. */
export type RefusalSource = 'connection' | 'read' | 'write' | 'channel'

/**
 * The refusals Redis is giving the broker now, by where each was heard and until a success there:
 * readiness says `refused` while one stands (a Redis that answers PING may still refuse every key,
 * a write, or the channel), and the first is logged as an error naming the prefix to allow.
 */
export class RefusalRecord {
  private readonly standing = new Set<RefusalSource>()
  private readonly keyPrefix: string
  private readonly logger: Logger

  constructor (opts: { keyPrefix: string, logger: Logger }) {
    this.keyPrefix = opts.keyPrefix
    this.logger = opts.logger
  }

  /** Records `err` if it is a refusal; anything else (a timeout, a lost connection) proves nothing either way. */
  heard (source: RefusalSource, err: unknown): void {
    if (!isRedisRefusal(err)) return
    if (this.standing.size === 0) {
      this.logger.error({ keyPrefix: this.keyPrefix, source, reason: redisReason(err as Error) },
        'redis refuses the broker: its ACL user needs ~<REDIS_KEY_PREFIX>* and &<REDIS_KEY_PREFIX>* and the commands the README lists (Redis), and the right password; not ready, serving from process memory until it does')
    }
    this.standing.add(source)
  }

  cleared (source: RefusalSource): void {
    this.standing.delete(source)
  }

  has (source?: RefusalSource): boolean {
    return source === undefined ? this.standing.size > 0 : this.standing.has(source)
  }
}
