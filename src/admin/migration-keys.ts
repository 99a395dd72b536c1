import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto'
import { buildSelfSignedCertificate } from '../salesforce/x509.ts'
import { transitKeyName, type TransitKeys } from '../secrets/vault-transit.ts'

/**
 * Who holds the private key of a JWT bearer connection, and how its certificate is made.
 *  - store: the broker makes the RSA key and keeps it as the connection's `privateKey`, a secret
 *    field encrypted like the others (file store, or Vault KV);
 *  - vault-transit: Vault's Transit engine makes it (exportable=false) and signs with it; the
 *    broker only ever holds the public key and the key's name (`transitKey`).
 * Either way the certificate is self-signed by the same key, so Salesforce sees one identity.
 */
export interface IssuedKey {
  /** the definition fields that hold or name the key */
  fields: { privateKey?: string, transitKey?: string }
  /** PEM certificate to upload to the app ("Use digital signatures") */
  certificate: string
}

export interface KeyCustody {
  readonly kind: 'store' | 'vault-transit'
  issue (connection: string, validityDays: number, now: Date): Promise<IssuedKey>
}

function validity (now: Date, days: number): { notBefore: Date, notAfter: Date } {
  // a minute back: a Salesforce clock a little behind ours must not see a certificate from the future
  return { notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + days * 86_400_000) }
}

export function storeCustody (): KeyCustody {
  return {
    kind: 'store',
    async issue (connection, validityDays, now) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const certificate = await buildSelfSignedCertificate({
        spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
        commonName: `sf-broker ${connection}`,
        ...validity(now, validityDays),
        sign: async tbs => sign('sha256', tbs, privateKey),
      })
      return { fields: { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, certificate }
    },
  }
}

export function transitCustody (transit: TransitKeys): KeyCustody {
  return {
    kind: 'vault-transit',
    async issue (connection, validityDays, now) {
      const name = transitKeyName(connection, now)
      const key = await transit.create(name)
      const certificate = await buildSelfSignedCertificate({
        spkiDer: createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' }),
        commonName: `sf-broker ${connection}`,
        ...validity(now, validityDays),
        // the certificate's own signature is made inside Vault too: the key is never here
        sign: tbs => transit.sign(name, tbs),
      })
      return { fields: { transitKey: name }, certificate }
    },
  }
}
