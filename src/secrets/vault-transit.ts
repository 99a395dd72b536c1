import type { JwtSigner } from '../salesforce/jwt-bearer.ts'
import type { VaultSecretStore } from './vault-store.ts'

/**
 * RSA keys in Vault's Transit engine for JWT bearer (JWT_KEY_CUSTODY=vault-transit): created with
 * exportable=false, so the private key exists only inside Vault; the broker reads the public key
 * and asks Vault to sign. Request and answer shapes from hashicorp/vault
 * builtin/logical/transit/path_keys.go (keys/:name: `keys.<version>.public_key`, `latest_version`)
 * and path_sign_verify.go (sign/:name/:urlalgorithm: base64 `input`, `signature_algorithm`,
 * answered `vault:v<version>:<base64>`). RS256 is PKCS#1 v1.5 over SHA-256; Transit's default
 * for RSA is PSS, which Salesforce would refuse, so it is always named.
 */
export interface TransitKeyInfo {
  name: string
  /** PKIX "PUBLIC KEY" PEM of the latest version */
  publicKeyPem: string
  exportable: boolean
}

interface KeyReadBody { data?: { latest_version?: unknown, exportable?: unknown, keys?: Record<string, { public_key?: unknown }> } }
interface SignBody { data?: { signature?: unknown } }

/** A Transit key name (framework.GenericNameRegex) for a connection, unique per migration or rotation. */
export function transitKeyName (connection: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-')
  return `sf-broker-${connection}-${stamp}`
}

export class TransitKeys {
  private readonly vault: VaultSecretStore
  private readonly mount: string

  constructor (vault: VaultSecretStore, mount: string) {
    this.vault = vault
    this.mount = mount.replace(/^\/+|\/+$/g, '')
  }

  /** Creates an RSA-2048 key that cannot be exported, and answers its public key. */
  async create (name: string): Promise<TransitKeyInfo> {
    const path = `${this.mount}/keys/${name}`
    await this.vault.request('transit.create', path, c => c.write(path, { type: 'rsa-2048', exportable: false }))
    const info = await this.read(name)
    if (info === null) throw new Error(`Vault Transit did not keep the key "${name}"`)
    // a key that already existed (a name reused by hand) may be exportable: never sign with such a key
    if (info.exportable) throw new Error(`Vault Transit key "${name}" is exportable; the broker signs only with keys that never leave Vault`)
    return info
  }

  async read (name: string): Promise<TransitKeyInfo | null> {
    const path = `${this.mount}/keys/${name}`
    const body = await this.vault.request('transit.read', path, c => c.read(path) as Promise<KeyReadBody>, () => null)
    const data = body?.data
    if (!data) return null
    const latest = String(data.latest_version ?? '1')
    const pem = data.keys?.[latest]?.public_key
    if (typeof pem !== 'string' || !pem.includes('PUBLIC KEY')) throw new Error(`Vault Transit key "${name}" has no RSA public key`)
    return { name, publicKeyPem: pem, exportable: data.exportable === true }
  }

  /** Signs with RSASSA-PKCS1-v1_5 over SHA-256 inside Vault: what RS256 and sha256WithRSAEncryption need. */
  async sign (name: string, input: Buffer): Promise<Buffer> {
    const path = `${this.mount}/sign/${name}/sha2-256`
    const body = await this.vault.request('transit.sign', path, c => c.write(path, { input: input.toString('base64'), signature_algorithm: 'pkcs1v15' }) as Promise<SignBody>)
    const signature = body?.data?.signature
    const match = typeof signature === 'string' ? /^vault:v\d+:([A-Za-z0-9+/=]+)$/.exec(signature) : null
    if (!match) throw new Error('Vault Transit answered the sign request without a signature')
    return Buffer.from(match[1], 'base64')
  }

  signer (name: string): JwtSigner {
    return input => this.sign(name, input)
  }
}
