import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * Sessions cached in Redis are access tokens: anyone who can read Redis could act as the
 * integration user. They are sealed with AES-256-GCM; the Redis key is the additional
 * authenticated data, so a ciphertext copied under another connection's key fails to open.
 */
export class SessionSealer {
  private readonly key: Buffer

  constructor (key: Buffer) {
    if (key.length !== 32) throw new Error('session encryption key must be 32 bytes')
    this.key = key
  }

  seal (plaintext: string, aad: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    cipher.setAAD(Buffer.from(aad))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.')
  }

  /** null when the value was not sealed by this key for this AAD (wrong key, tampering, other key's value). */
  open (sealed: string, aad: string): string | null {
    const parts = sealed.split('.')
    if (parts.length !== 4 || parts[0] !== 'v1') return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(parts[1], 'base64'))
      decipher.setAAD(Buffer.from(aad))
      decipher.setAuthTag(Buffer.from(parts[2], 'base64'))
      return Buffer.concat([decipher.update(Buffer.from(parts[3], 'base64')), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }
}
