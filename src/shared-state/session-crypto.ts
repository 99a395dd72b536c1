import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * Sessions cached in Redis are access tokens: anyone who can read Redis could act as the
 * integration user. They are sealed with AES-256-GCM; the Redis key is the additional
 * authenticated data, so a ciphertext copied under another connection's key fails to open.
 *
 * Key rotation: new sessions are sealed with the current key only; sessions sealed with a
 * previous key still open until they expire, so replicas restarted with a new key keep serving
 * the sessions already cached instead of logging in again (GCM's tag tells which key fits).
 */
/**
 * GCM's tag, the full 128 bits, written and required: told nothing, a decipher accepts a tag cut to
 * 4 bytes (a prefix of the right one verifies), a forgery in 2^32 guesses (NIST SP 800-38D, 5.2.1.2).
 */
const TAG_BYTES = 16

export class SessionSealer {
  private readonly key: Buffer
  private readonly openKeys: Buffer[]

  constructor (key: Buffer, previousKeys: Buffer[] = []) {
    for (const k of [key, ...previousKeys]) {
      if (k.length !== 32) throw new Error('session encryption key must be 32 bytes')
    }
    this.key = key
    this.openKeys = [key, ...previousKeys.filter(k => !k.equals(key))]
  }

  seal (plaintext: string, aad: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(aad))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.')
  }

  /** null when the value was not sealed by one of the keys for this AAD (wrong key, tampering, other key's value). */
  open (sealed: string, aad: string): string | null {
    const parts = sealed.split('.')
    if (parts.length !== 4 || parts[0] !== 'v1') return null
    for (const key of this.openKeys) {
      const plain = openWith(key, parts, aad)
      if (plain !== null) return plain
    }
    return null
  }
}

function openWith (key: Buffer, parts: string[], aad: string): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1], 'base64'), { authTagLength: TAG_BYTES })
    decipher.setAAD(Buffer.from(aad))
    decipher.setAuthTag(Buffer.from(parts[2], 'base64'))
    return Buffer.concat([decipher.update(Buffer.from(parts[3], 'base64')), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}
