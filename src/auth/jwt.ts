import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose'
import type { Principal, PrincipalDirectory } from './principals.ts'

export interface JwtVerifierOptions {
  jwksUrl: string
  issuer?: string
  audience?: string
}

export type JwtVerifier = (token: string) => Promise<Principal | null>

/**
 * Verifies caller JWTs (e.g. Kubernetes projected service-account tokens) against a JWKS and maps
 * their `sub` to a principal. jose caches the key set and refetches it when an unknown `kid` shows up,
 * so key rotation at the issuer needs no restart.
 */
export function createJwtVerifier (directory: PrincipalDirectory, opts: JwtVerifierOptions, keySet?: JWTVerifyGetKey): JwtVerifier {
  const jwks = keySet ?? createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30000 })
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'],
        clockTolerance: 30,
      })
      if (typeof payload.sub !== 'string') return null
      return directory.bySubject.get(payload.sub) ?? null
    } catch {
      return null
    }
  }
}
