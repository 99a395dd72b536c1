import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal, PrincipalDirectory } from './principals.ts'

const KEY_PATTERN = /^sfb\.([a-z0-9][a-z0-9-]{0,62})\.([A-Za-z0-9_-]{16,128})$/

export function hashApiKey (key: string): string {
  return hash('sha256', key, 'hex')
}

/** A new random key for a principal; only its hash goes into the principals document. */
export function generateApiKey (principalId: string): { key: string, sha256: string } {
  const key = `sfb.${principalId}.${randomBytes(24).toString('base64url')}`
  return { key, sha256: hashApiKey(key) }
}

/**
 * The principal the key belongs to, or null. Compares the key's hash with every hash the
 * principal has in constant time, so response timing says nothing about how close a guess was.
 */
export function verifyApiKey (directory: PrincipalDirectory, key: string): Principal | null {
  const match = KEY_PATTERN.exec(key)
  if (!match) return null
  const principal = directory.byId.get(match[1])
  if (!principal) return null
  // one-shot hash: this runs on every request, and building a Hash object costs more than hashing
  const presented = hash('sha256', key, 'buffer')
  let ok = false
  for (const hex of principal.apiKeySha256 ?? []) {
    // no early exit: every stored hash is compared
    if (timingSafeEqual(presented, Buffer.from(hex, 'hex'))) ok = true
  }
  return ok ? principal : null
}

export function looksLikeApiKey (token: string): boolean {
  return token.startsWith('sfb.')
}
