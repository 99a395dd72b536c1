import { randomBytes } from 'node:crypto'
import { generateApiKey } from '../../src/auth/api-key.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'
import { FileSecretStore } from '../../src/secrets/file-store.ts'
import type { SimOrgOptions } from '../../packages/simulator/src/types.ts'

/** The benchmark's one simulated org and the credentials its connections use. */
export const ORG = 'bench'

const APP = { clientId: '3MVG9bench.consumer.key', clientSecret: 'bench-consumer-secret-0123456789' }
const RUN_AS = { username: 'integration@bench.example', password: 'Bench-Passw0rd-1', securityToken: 'BENCHtoken0123456789' }
/** The user the bad-credential storm logs in as (with a wrong password), kept apart so a lockout touches nothing else. */
const STORM_USER = { username: 'storm@bench.example', password: 'Storm-Passw0rd-1', securityToken: 'STORMtoken0123456789' }

export function benchOrg (): SimOrgOptions {
  return {
    key: ORG,
    sessionTimeoutSeconds: 7200,
    lockout: { maxAttempts: 5, durationSeconds: 900 },
    // the scale scenario logs in a thousand times a minute as one run-as user; Salesforce's hourly cap is not under test
    loginRatePerHour: 10_000_000,
    // each validation reads /limits once; a run must not exhaust the simulated daily allocation
    apiRequestLimit: 1_000_000_000,
    users: [RUN_AS, STORM_USER],
    connectedApps: [{ ...APP, clientCredentialsUser: RUN_AS.username }],
  }
}

/** Client-credentials connection to the org's My Domain: one token request per login. */
export function clientCredentialsConnection (myDomainUrl: string): ConnectionDefinition {
  return { flow: 'client_credentials', loginUrl: myDomainUrl, apiVersion: '62.0', sessionTimeoutSeconds: 7200, ...APP }
}

/** Username-password OAuth connection whose password is wrong: every login is a failed attempt at the org. */
export function wrongPasswordConnection (loginUrl: string): ConnectionDefinition {
  return {
    flow: 'oauth_password',
    loginUrl,
    apiVersion: '62.0',
    sessionTimeoutSeconds: 7200,
    username: STORM_USER.username,
    password: 'not-the-password',
    securityToken: STORM_USER.securityToken,
    ...APP,
  }
}

export interface BenchStore {
  path: string
  /** base64, as FILE_STORE_KEY */
  keyBase64: string
}

/**
 * Writes the connections into a new encrypted store file before any broker starts. Each write
 * re-encrypts the whole file (one process owns it), so a thousand connections take a while.
 */
export async function seedStore (path: string, connections: Array<[string, ConnectionDefinition]>): Promise<BenchStore> {
  const key = randomBytes(32)
  const store = new FileSecretStore({ path, key })
  for (const [name, definition] of connections) await store.write(name, definition, 0)
  await store.close()
  return { path, keyBase64: key.toString('base64') }
}

export interface BenchCaller {
  /** the API key, sent as Bearer */
  key: string
  /** PRINCIPALS_JSON */
  principalsJson: string
}

/** One service principal granted every connection, authenticated with a real API key. */
export function benchCaller (): BenchCaller {
  const caller = generateApiKey('bench-caller')
  const admin = generateApiKey('bench-admin')
  const doc = {
    principals: [
      { id: 'bench-caller', kind: 'service', apiKeySha256: [caller.sha256], connections: ['*'] },
      { id: 'bench-admin', kind: 'admin', apiKeySha256: [admin.sha256] },
    ],
  }
  return { key: caller.key, principalsJson: JSON.stringify(doc) }
}

export function randomKeyBase64 (): string {
  return randomBytes(32).toString('base64')
}
