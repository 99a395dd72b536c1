/**
 * Redis's own "no", not the network's: a wrong password or ACL user (AUTH answers WRONGPASS; a
 * command without AUTH, NOAUTH; an ACL user without the right, NOPERM) or a TLS handshake one side
 * refused (Node's ERR_SSL_* for a TLS alert the server sent, such as "certificate required";
 * ERR_TLS_* and OpenSSL's verification codes for a server certificate the broker refused).
 * Retrying does not change such an answer: a starting replica stops waiting for it (firstConnect).
 * A Redis Cluster client reports only "Failed to refresh slots cache.": not recognised, it waits.
 */
// anywhere in the message: with Sentinel, ioredis reports "All sentinels are unreachable. … Last error: WRONGPASS …"
const REFUSED_REPLY = /\b(WRONGPASS|NOAUTH|NOPERM)\b/
const CERTIFICATE_REFUSED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])

export function isRedisRefusal (err: Error & { code?: unknown }): boolean {
  if (REFUSED_REPLY.test(err.message)) return true
  const code = typeof err.code === 'string' ? err.code : ''
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERTIFICATE_REFUSED.has(code)
}
