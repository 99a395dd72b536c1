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
const CERTIFICATE_REFUSED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])

type RedisError = Error & { code?: unknown, lastNodeError?: unknown }

export function isRedisRefusal (err: RedisError): boolean {
  const node = lastNodeError(err)
  return refused(err) || (node !== undefined && refused(node))
}

function refused (err: RedisError): boolean {
  if (REFUSED_REPLY.test(err.message)) return true
  const code = typeof err.code === 'string' ? err.code : ''
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERTIFICATE_REFUSED.has(code)
}

/** What an operator needs to read: a Cluster's "Failed to refresh slots cache." says nothing without the node's answer. */
export function redisReason (err: RedisError): string {
  const node = lastNodeError(err)
  return node ? `${err.message} Last node error: ${node.message}` : err.message
}

function lastNodeError (err: RedisError): RedisError | undefined {
  return err.lastNodeError instanceof Error ? err.lastNodeError : undefined
}
