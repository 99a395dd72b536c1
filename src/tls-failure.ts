/**
 * A TLS failure, named by the code Node gives its error.
 *  - `certificate`: this process refused the peer's certificate: OpenSSL's verification codes as
 *    Node reports them (Node.js documentation, TLS, "X509 certificate error codes") and Node's own
 *    host-name check. Node rejects the certificate before the socket is handed over as connected,
 *    and undici writes a request only after that, so no byte of a request was sent: no password
 *    reached a login host, no AUTH reached Redis. Retrying gives the same answer until the peer's
 *    certificate or the broker's trusted CAs (NODE_EXTRA_CA_CERTS, read at start) change.
 *  - `not_tls`: a record that is not TLS (ERR_SSL_WRONG_VERSION_NUMBER), typically an https URL on a
 *    plain-HTTP port. OpenSSL raises it for a bad record at any point of a connection, after a
 *    request was written too, so it does not say that nothing was sent: only what to check.
 */
export type TlsFailure = 'certificate' | 'not_tls'

const X509_VERIFICATION_CODES = [
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA',
  'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]

const FAILURES: ReadonlyMap<string, TlsFailure> = new Map([
  ...X509_VERIFICATION_CODES.map(code => [code, 'certificate'] as const),
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'certificate'],
  ['ERR_SSL_WRONG_VERSION_NUMBER', 'not_tls'],
])

export function tlsFailureOf (code: string): TlsFailure | undefined {
  return FAILURES.get(code)
}
