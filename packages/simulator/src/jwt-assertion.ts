import { X509Certificate, createPublicKey, verify, type KeyObject } from 'node:crypto'

export interface AssertionClaims {
  iss?: unknown
  sub?: unknown
  aud?: unknown
  exp?: unknown
}

export interface DecodedAssertion {
  alg: unknown
  claims: AssertionClaims
  signingInput: string
  signature: Buffer
}

/** Splits a compact JWS; undefined when it is not one. The signature is checked separately, once the issuer's key is known. */
export function decodeAssertion (assertion: string): DecodedAssertion | undefined {
  const parts = assertion.split('.')
  if (parts.length !== 3) return undefined
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { alg?: unknown }
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as AssertionClaims
    if (typeof claims !== 'object' || claims === null) return undefined
    return { alg: header.alg, claims, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') }
  } catch {
    return undefined
  }
}

function publicKeyFrom (pem: string): KeyObject {
  return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem)
}

/** Salesforce accepts only RS256 assertions, verified with the certificate uploaded to the connected app. */
export function signatureValid (decoded: DecodedAssertion, certificatePem: string | undefined): boolean {
  if (decoded.alg !== 'RS256' || !certificatePem) return false
  try {
    return verify('RSA-SHA256', Buffer.from(decoded.signingInput), publicKeyFrom(certificatePem), decoded.signature)
  } catch {
    return false
  }
}

/** `aud` may be a string or an array (RFC 7519); one accepted value is enough. */
export function audienceAccepted (aud: unknown, accepted: readonly string[]): boolean {
  const trim = (s: string): string => s.replace(/\/+$/, '')
  const wanted = new Set(accepted.map(trim))
  const values = Array.isArray(aud) ? aud : [aud]
  return values.some(v => typeof v === 'string' && wanted.has(trim(v)))
}
