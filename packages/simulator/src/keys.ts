import { generateKeyPairSync } from 'node:crypto'

export interface TestKeyPair {
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY") */
  privateKeyPem: string
  /** an SPKI public key PEM ("BEGIN PUBLIC KEY"), not an X.509 certificate; the simulator accepts either */
  certificatePem: string
}

/** RSA 2048 key pair for configuring a connected app's JWT bearer flow in tests. */
export function generateTestKeyPair (): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  return { privateKeyPem: privateKey, certificatePem: publicKey }
}
