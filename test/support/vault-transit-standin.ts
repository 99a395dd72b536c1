import { constants, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

/**
 * Vault's Transit secrets engine, for the parts the broker uses, written from Vault's source:
 * - builtin/logical/transit/path_keys.go: POST keys/:name creates (upsert: an existing key is
 *   answered with the warning "key NAME already existed"), GET keys/:name reads through
 *   formatKeyPolicy — for RSA types `keys.<version>` is {name, public_key (PKIX "PUBLIC KEY" PEM),
 *   certificate_chain, creation_time}; an unknown key reads as 404 with no errors; an unknown type
 *   is 400 "unknown key type X"; the default type is aes256-gcm96.
 * - builtin/logical/transit/path_sign_verify.go: POST sign/:name(/:urlalgorithm) with base64
 *   `input`, `hash_algorithm` (default sha2-256; the URL segment wins), `signature_algorithm`
 *   ("pss" by default, or "pkcs1v15" for RSA), answered {signature: "vault:v<version>:<base64>"};
 *   "encryption key not found" (400) for a key that does not exist, `invalid hash algorithm "x"`
 *   (400), "key type X does not support signing" (400), "unable to decode input as base64: …" (400).
 *   RSA signing is in sdk/helper/keysutil/policy.go Sign: PSS with an automatic salt length,
 *   PKCS#1 v1.5 otherwise; an unknown RSA signature algorithm is an internal error (500).
 * The private key never leaves this module except through `privateKeyForTest`, which exists so a
 * test can prove that no byte of it shows up anywhere in the broker.
 */
export interface TransitKey {
  type: string
  exportable: boolean
  creationTime: string
  /** undefined for key types the stand-in does not sign with (symmetric) */
  privateKey?: KeyObject
  publicKeyPem?: string
}

export interface TransitRes { status: number, body?: unknown }

const RSA_BITS: Record<string, number> = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 }
const SYMMETRIC = new Set(['aes128-gcm96', 'aes256-gcm96', 'chacha20-poly1305', 'hmac'])
/** keysutil.HashTypeMap, the digests node:crypto knows by another name */
const HASHES: Record<string, string> = { sha1: 'sha1', 'sha2-224': 'sha224', 'sha2-256': 'sha256', 'sha2-384': 'sha384', 'sha2-512': 'sha512' }
/** framework.GenericNameRegex */
const NAME = /^\w(([\w-.@]+)?\w)?$/

export class TransitEngine {
  readonly keys = new Map<string, TransitKey>()
  /** signatures made, per key: what a test counts */
  readonly signCount = new Map<string, number>()

  /** `rest` is the path below the mount: keys/NAME or sign/NAME(/ALG). */
  handle (method: string, rest: string, body: Record<string, unknown>, envelope: (data: unknown, warnings?: string[] | null) => unknown): TransitRes | undefined {
    const write = method === 'POST' || method === 'PUT'
    const keys = /^keys\/([^/]+)$/.exec(rest)
    if (keys && NAME.test(keys[1])) {
      if (write) return this.create(keys[1], body, envelope)
      if (method === 'GET') {
        const key = this.keys.get(keys[1])
        return key ? { status: 200, body: envelope(this.format(keys[1], key)) } : { status: 404, body: { errors: [] } }
      }
    }
    const signPath = /^sign\/([^/]+)(?:\/([^/]+))?$/.exec(rest)
    if (signPath && NAME.test(signPath[1]) && write) return this.sign(signPath[1], signPath[2], body, envelope)
    return undefined
  }

  privateKeyForTest (name: string): KeyObject | undefined {
    return this.keys.get(name)?.privateKey
  }

  private create (name: string, body: Record<string, unknown>, envelope: (data: unknown, warnings?: string[] | null) => unknown): TransitRes {
    const type = typeof body.type === 'string' && body.type !== '' ? body.type : 'aes256-gcm96'
    if (!(type in RSA_BITS) && !SYMMETRIC.has(type)) return { status: 400, body: { errors: [`unknown key type ${type}`] } }
    const existing = this.keys.get(name)
    if (existing) return { status: 200, body: envelope(this.format(name, existing), [`key ${name} already existed`]) }
    const key: TransitKey = { type, exportable: body.exportable === true || body.exportable === 'true', creationTime: new Date().toISOString() }
    if (type in RSA_BITS) {
      const pair = generateKeyPairSync('rsa', { modulusLength: RSA_BITS[type] })
      key.privateKey = createPrivateKey(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }))
      key.publicKeyPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    }
    this.keys.set(name, key)
    return { status: 200, body: envelope(this.format(name, key)) }
  }

  private format (name: string, key: TransitKey): Record<string, unknown> {
    const asymmetric = key.publicKeyPem !== undefined
    const created = Math.floor(Date.parse(key.creationTime) / 1000)
    return {
      name,
      type: key.type,
      derived: false,
      deletion_allowed: false,
      min_available_version: 0,
      min_decryption_version: 1,
      min_encryption_version: 0,
      latest_version: 1,
      exportable: key.exportable,
      allow_plaintext_backup: false,
      supports_encryption: true,
      supports_decryption: !asymmetric,
      supports_signing: asymmetric,
      supports_derivation: !asymmetric,
      auto_rotate_period: 0,
      imported_key: false,
      keys: asymmetric
        ? { 1: { name: key.type, public_key: key.publicKeyPem, certificate_chain: '', creation_time: key.creationTime, hybrid_public_key: '' } }
        : { 1: created },
    }
  }

  private sign (name: string, urlAlgorithm: string | undefined, body: Record<string, unknown>, envelope: (data: unknown) => unknown): TransitRes {
    const hashName = urlAlgorithm ?? (typeof body.hash_algorithm === 'string' && body.hash_algorithm !== '' ? body.hash_algorithm : 'sha2-256')
    const hash = HASHES[hashName]
    if (hash === undefined) return { status: 400, body: { errors: [`invalid hash algorithm "${hashName}"`] } }
    const key = this.keys.get(name)
    if (!key) return { status: 400, body: { errors: ['encryption key not found'] } }
    if (!key.privateKey) return { status: 400, body: { errors: [`key type ${key.type} does not support signing`] } }
    const raw = typeof body.input === 'string' ? body.input : ''
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw) || raw.length % 4 !== 0) return { status: 400, body: { errors: [`unable to decode input as base64: illegal base64 data at input byte ${Math.max(0, raw.search(/[^A-Za-z0-9+/=]/))}`] } }
    const algorithm = typeof body.signature_algorithm === 'string' && body.signature_algorithm !== '' ? body.signature_algorithm : 'pss'
    if (algorithm !== 'pss' && algorithm !== 'pkcs1v15') return { status: 500, body: { errors: [`1 error occurred:\n\t* unsupported rsa signature algorithm ${algorithm}\n\n`] } }
    const padding = algorithm === 'pss'
      ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN }
      : { padding: constants.RSA_PKCS1_PADDING }
    const signature = sign(hash, Buffer.from(raw, 'base64'), { key: key.privateKey, ...padding })
    this.signCount.set(name, (this.signCount.get(name) ?? 0) + 1)
    return { status: 200, body: envelope({ signature: `vault:v1:${signature.toString('base64')}`, key_version: 1 }) }
  }
}
