/**
 * A TLS handshake this process gave up on, named by the code Node gives its error. The handshake
 * comes before the first byte of a request, so such a failure sent nothing: no password reached a
 * login host, no AUTH reached Redis.
 *  - `certificate`: the peer's certificate was refused here: OpenSSL's verification codes as Node
 *    reports them (Node.js documentation, TLS, "X509 certificate error codes") and Node's own
 *    host-name check. Retrying gives the same answer until the peer's certificate or the broker's
 *    trusted CAs (NODE_EXTRA_CA_CERTS) change.
 *  - `not_tls`: the peer answered the ClientHello with something that is not TLS (an https URL on a
 *    plain HTTP port).
 * Other TLS errors are left out on purpose: some (a bad record MAC, say) can come after a request
 * was sent, and a login whose fate is unknown must count as failed.
 */
export type HandshakeRefusal = 'certificate' | 'not_tls'

const X509_VERIFICATION_CODES = [
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA',
  'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]

const REFUSALS: ReadonlyMap<string, HandshakeRefusal> = new Map([
  ...X509_VERIFICATION_CODES.map(code => [code, 'certificate'] as const),
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'certificate'],
  ['ERR_SSL_WRONG_VERSION_NUMBER', 'not_tls'],
])

export function handshakeRefusal (code: string): HandshakeRefusal | undefined {
  return REFUSALS.get(code)
}
