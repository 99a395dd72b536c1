import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { egressFetch } from '../egress.ts'
import type { Principal, PrincipalDirectory } from './principals.ts'

export interface JwtVerifierOptions {
  jwksUrl: string
  /** required: the issuer's keys sign tokens for every audience, so iss and aud are what make a token ours */
  issuer: string
  audience: string
  /** longest lifetime accepted: exp - iat and exp - now (an iat in the future is refused) */
  maxTtlSeconds: number
}

/**
 * The token's principal, or null. `refused` hears why a token was refused, in words safe to log
 * (a claim's name, jose's error code; never the token or a claim's value): a wrong JWT_ISSUER or
 * JWT_AUDIENCE, or an issuer that cannot be reached, otherwise shows only as 401s.
 */
export type JwtVerifier = (token: string, refused?: (reason: string) => void) => Promise<Principal | null>

const CLOCK_TOLERANCE_SECONDS = 30

/**
 * Verifies caller JWTs (e.g. Kubernetes projected service-account tokens) against a JWKS and maps
 * their `sub` to a principal. jose caches the key set and refetches it when an unknown `kid` shows up,
 * so key rotation at the issuer needs no restart.
 */
export function createJwtVerifier (directory: PrincipalDirectory, opts: JwtVerifierOptions, keySet?: JWTVerifyGetKey): JwtVerifier {
  // the key set is fetched through the egress proxy, like Salesforce
  const jwks = keySet ?? lastKnownOnFailure(createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30000, [customFetch]: egressFetch }))
  return async (token, refused) => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // a token without exp never stops working once it leaks
        requiredClaims: ['exp'],
      })
      if (!withinLifetime(payload, opts.maxTtlSeconds)) return refusedFor('lifetime over JWT_MAX_TTL_SECONDS, or issued in the future', refused)
      if (typeof payload.sub !== 'string') return refusedFor('no sub claim', refused)
      return directory.bySubject.get(payload.sub) ?? refusedFor('no principal has this subject', refused)
    } catch (err) {
      return refusedFor(refusalReason(err), refused)
    }
  }
}

function refusedFor (reason: string, refused: ((reason: string) => void) | undefined): null {
  refused?.(reason)
  return null
}

/** jose's words for a refusal, reduced to what may be logged: a failed claim's name, else the error code. */
function refusalReason (err: unknown): string {
  if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired) return `${err.claim} claim`
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^ERR_[A-Z_]{1,60}$/.test(code) ? code : 'malformed token'
}

const RETRY_AFTER_FAILURE_MS = 30_000

/**
 * jose refetches a key set older than its cache age (10 minutes) before verifying, and a failed
 * fetch fails the verification: while the issuer is unreachable (the Kubernetes API server during
 * a control-plane upgrade) every caller JWT would be answered 401, although the keys that signed
 * them are in hand. The key set fetched last is used instead while the issuer cannot be reached, as
 * OIDC verifiers do (keys leave it only by a successful fetch), and the issuer is asked again at
 * most every RETRY_AFTER_FAILURE_MS, so a hanging issuer does not make every request wait for the
 * fetch timeout. A key the last set does not hold is still refused.
 */
function lastKnownOnFailure (remote: ReturnType<typeof createRemoteJWKSet>): JWTVerifyGetKey {
  let failedAt = -Infinity
  let lastKnown: JWTVerifyGetKey | undefined
  return async (header, token) => {
    if (lastKnown !== undefined && Date.now() - failedAt < RETRY_AFTER_FAILURE_MS) return await lastKnown(header, token)
    try {
      return await remote(header, token)
    } catch (err) {
      // the key set answered, but holds no key (or several) for this token: not a fetch failure
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err
      const set = remote.jwks()
      if (set === undefined) throw err
      failedAt = Date.now()
      lastKnown = createLocalJWKSet(set)
      return await lastKnown(header, token)
    }
  }
}

/**
 * A long-lived token is a password by another name: Kubernetes can extend the automounted token
 * to a year, so only short tokens (a projected token with its own audience) are accepted. Judged on
 * exp - iat, so a year-long token is refused even in its last hour, and on exp - now, so an `iat`
 * set in the future cannot make a long-lived token look short (one issued "next year" with a
 * ten-minute span works for a year from now). An `iat` ahead of now is refused outright: no issuer
 * signs a token it has not issued yet, beyond the clock skew tolerated.
 */
function withinLifetime (payload: JWTPayload, maxTtlSeconds: number): boolean {
  const exp = payload.exp as number // required above
  const now = Math.floor(Date.now() / 1000)
  if (typeof payload.iat === 'number') {
    if (payload.iat > now + CLOCK_TOLERANCE_SECONDS) return false
    if (exp - payload.iat > maxTtlSeconds) return false
  }
  // allow the issuer's clock to run a little ahead
  return exp - now <= maxTtlSeconds + CLOCK_TOLERANCE_SECONDS
}
