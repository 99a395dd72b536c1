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
 * The principal the key belongs to, or null. A key seen for the first time is hashed and compared
 * with every hash of its principal in constant time, so response timing says nothing about how
 * close a guess was. A key that verified is remembered (bounded), so a caller's key is hashed
 * once rather than on every request; unknown keys always take the full path.
 */
export function verifyApiKey (directory: PrincipalDirectory, key: string): Principal | null {
  const known = verified.get(directory.byId)?.get(key)
  if (known) return known
  const match = KEY_PATTERN.exec(key)
  if (!match) return null
  const principal = directory.byId.get(match[1])
  if (!principal) return null
  // one-shot hash: building a Hash object costs more than hashing
  const presented = hash('sha256', key, 'buffer')
  let ok = false
  for (const hex of principal.apiKeySha256 ?? []) {
    // no early exit: every stored hash is compared
    if (timingSafeEqual(presented, Buffer.from(hex, 'hex'))) ok = true
  }
  if (!ok) return null
  let cache = verified.get(directory.byId)
  if (!cache) {
    cache = new Map()
    verified.set(directory.byId, cache)
  }
  // keys only change with the principals document, and a reload puts a new byId map in the
  // directory (src/auth/principals-reload.ts): remembered keys go with the old map, no expiry needed;
  // the bound stops growth
  if (cache.size >= MAX_REMEMBERED) cache.delete(cache.keys().next().value as string)
  cache.set(key, principal)
  return principal
}

const MAX_REMEMBERED = 10_000
const verified = new WeakMap<PrincipalDirectory['byId'], Map<string, Principal>>()

export function looksLikeApiKey (token: string): boolean {
  return token.startsWith('sfb.')
}
