import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { ConfigError } from './config-error.ts'

/**
 * PEM files named by the configuration, checked when they are read at start so that what is wrong
 * stops the broker with a line naming the variable (exit 78), not at the first connection with
 * OpenSSL's words ("PEM routines::no start line"), which name no file. Nothing of a file is quoted.
 */

/**
 * A certificate block under each label OpenSSL reads as one where Node's TLS takes a `ca`
 * (PEM_read_bio_X509_AUX): CERTIFICATE, the old X509 CERTIFICATE, and TRUSTED CERTIFICATE (a
 * certificate with OpenSSL's trust settings: `openssl x509 -trustout`, RHEL's ca-bundle.trust.crt).
 */
const PEM_CERTIFICATE = /-----BEGIN ((?:TRUSTED |X509 )?CERTIFICATE)-----[^-]+-----END \1-----/g

function parses (block: string): boolean {
  try {
    return new X509Certificate(block).subject !== undefined
  } catch {
    return false
  }
}

/**
 * A CA bundle: one PEM certificate at least, each of them whole. Node's TLS takes a `ca` with none (or
 * a damaged one) without a word and then trusts nothing it should, so every connection fails later.
 */
export function caBundle (variable: string, pem: Buffer, fix: string): Buffer {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) throw new ConfigError(`invalid ${variable}: no PEM certificate in the file; ${fix}`)
  if (!blocks.every(parses)) throw new ConfigError(`invalid ${variable}: a certificate in the file does not parse; ${fix}`)
  return pem
}

export interface PairVariables { cert: string, key: string }
export interface PairFixes { cert: string, key: string, pair: string }

/** A certificate chain and its private key: each loads, and they belong together. */
export function certificateAndKey (names: PairVariables, material: { cert: Buffer, key: Buffer }, fixes: PairFixes): void {
  try {
    createSecureContext({ cert: material.cert })
  } catch {
    throw new ConfigError(`invalid ${names.cert}: no PEM certificate in the file; ${fixes.cert}`)
  }
  try {
    createPrivateKey(material.key)
  } catch {
    throw new ConfigError(`invalid ${names.key}: no unencrypted PEM private key in the file; ${fixes.key}`)
  }
  try {
    createSecureContext(material)
  } catch {
    throw new ConfigError(`invalid ${names.key}: not the private key of the certificate in ${names.cert}; ${fixes.pair}`)
  }
}

export interface PeerTlsVariables { ca: string, cert: string, key: string }

/**
 * The CA bundle and client pair (mutual TLS) the broker uses towards a peer (Vault, Redis), read from
 * the files the variables name, each optional, and checked as read.
 */
export function readPeerTls (peer: string, names: PeerTlsVariables, files: { ca?: string, cert?: string, key?: string }): { ca?: Buffer, cert?: Buffer, key?: Buffer } {
  const ca = files.ca ? caBundle(names.ca, readFileSync(files.ca), `mount the PEM bundle of the CA that signs ${peer}'s certificates there (ca.crt), or unset ${names.ca} for a publicly trusted one`) : undefined
  const pair = files.cert && files.key ? { cert: readFileSync(files.cert), key: readFileSync(files.key) } : undefined
  if (pair) {
    certificateAndKey({ cert: names.cert, key: names.key }, pair, {
      cert: `mount the broker's client certificate for ${peer} there (PEM, tls.crt), leaf first`,
      key: `mount the key of ${names.cert} there (PEM, tls.key), without a passphrase`,
      pair: 'mount the key and certificate of the same issuance',
    })
  }
  return { ...(ca ? { ca } : {}), ...pair }
}
