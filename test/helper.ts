import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from '../src/app.ts'
import type { BrokerOverrides } from '../src/broker.ts'
import { loadConfig } from '../src/config.ts'
import type { ConnectionDefinition, Flow } from '../src/salesforce/types.ts'
import { FileSecretStore } from '../src/secrets/file-store.ts'
import type { SecretStore } from '../src/secrets/store.ts'
import { generateTestKeyPair, startSimulator, type SimOrgOptions, type Simulator } from '../packages/simulator/src/index.ts'
import { testPrincipals, type TestPrincipals } from './support/principals.ts'

/** Minimal tap surface the helpers need (teardown). */
export interface Teardown { teardown (fn: () => unknown): void }

export const ACME = {
  username: 'integration@acme.example',
  password: 'Corr3ct-Horse-Battery',
  securityToken: 'TOKENacme0123456789',
  clientId: '3MVG9acme.consumer.key',
  clientSecret: 'acme-consumer-secret-0123456789',
}

export const KEYS = generateTestKeyPair()

/**
 * The simulator refuses the OAuth username-password flow from 2027-02-20 by its own clock, the real
 * one, as Salesforce will. The test kit's orgs keep the flow (as the broker's calendar stands before
 * the sunsets, BEFORE_FLOW_SUNSETS), so a test about something else does not start failing on that
 * date; a test about the retirement moves the date (`oauthPasswordFlowRetiredAt`).
 */
export const SIM_FLOW_NOT_RETIRED = Date.UTC(9999, 0, 1)

export function acmeOrg (overrides: Partial<SimOrgOptions> = {}): SimOrgOptions {
  return {
    key: 'acme',
    oauthPasswordFlowRetiredAt: SIM_FLOW_NOT_RETIRED,
    sessionTimeoutSeconds: 7200,
    lockout: { maxAttempts: 5, durationSeconds: 900 },
    users: [{ username: ACME.username, password: ACME.password, securityToken: ACME.securityToken }],
    connectedApps: [{
      clientId: ACME.clientId,
      clientSecret: ACME.clientSecret,
      certificatePem: KEYS.certificatePem,
      clientCredentialsUser: ACME.username,
    }],
    ...overrides,
  }
}

export async function startSim (t: Teardown, orgs: SimOrgOptions[] = [acmeOrg()], latencyMs?: number): Promise<Simulator> {
  const sim = await startSimulator({ orgs, latencyMs })
  t.teardown(() => sim.close())
  return sim
}

/** A connection definition for the acme org, for each flow. */
export function acmeDefinition (sim: Simulator, flow: Flow = 'client_credentials', overrides: Partial<ConnectionDefinition> = {}): ConnectionDefinition {
  const common = { apiVersion: '62.0', sessionTimeoutSeconds: 7200 }
  const byFlow: Record<Flow, ConnectionDefinition> = {
    soap: { ...common, flow, loginUrl: sim.loginUrl, username: ACME.username, password: ACME.password, securityToken: ACME.securityToken },
    oauth_password: { ...common, flow, loginUrl: sim.loginUrl, username: ACME.username, password: ACME.password, securityToken: ACME.securityToken, clientId: ACME.clientId, clientSecret: ACME.clientSecret },
    jwt_bearer: { ...common, flow, loginUrl: sim.loginUrl, username: ACME.username, clientId: ACME.clientId, privateKey: KEYS.privateKeyPem },
    client_credentials: { ...common, flow, loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret },
  }
  return { ...byFlow[flow], ...overrides }
}

export async function tempFileStore (t: Teardown): Promise<FileSecretStore> {
  const dir = await mkdtemp(join(tmpdir(), 'sfb-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return new FileSecretStore({ path: join(dir, 'connections.enc'), key: randomBytes(32) })
}

export interface TestAppOptions {
  env?: Record<string, string>
  redisUrl?: string
  /** a store instance; `'configured'` builds the one the config names (Vault via env) */
  secretStore?: SecretStore | 'configured'
  principals?: TestPrincipals
  logger?: Logger
  overrides?: BrokerOverrides
}

export const BEFORE_FLOW_SUNSETS = (): number => Date.parse('2026-01-01T00:00:00Z')

export const TEST_KEY = randomBytes(32).toString('base64')

/** The broker exactly as the server builds it (buildApp), with test-sized settings; closed after the test. */
export async function buildTestApp (t: Teardown, opts: TestAppOptions = {}): Promise<{ app: FastifyInstance, principals: TestPrincipals }> {
  const principals = opts.principals ?? testPrincipals()
  // without Redis the broker must be told it runs alone (SHARED_STATE=memory), as a production start would
  const withRedis = opts.redisUrl !== undefined || ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'].some(k => opts.env?.[k] !== undefined)
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    ...(withRedis ? {} : { SHARED_STATE: 'memory' }),
    SECRET_STORE: 'file',
    FILE_STORE_KEY: TEST_KEY,
    PRINCIPALS_JSON: principals.json,
    LOGIN_URL_ALLOWLIST: 'http://127.0.0.1:*',
    SCHEDULER_ENABLED: 'false',
    DOCS_ENABLED: 'false',
    // the production default: a login to the simulator on loopback takes milliseconds, but on a
    // loaded machine (the suite beside `stress --cpu 2`) one took over 3 s and was classified
    // unreachable; tests about timeouts set their own
    LOGIN_TIMEOUT_MS: '10000',
    LOGIN_WAIT_TIMEOUT_MS: '8000',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl, SESSION_ENCRYPTION_KEY: TEST_KEY, REDIS_KEY_PREFIX: 'sfbtest:' } : {}),
    ...opts.env,
  })
  const app = await buildApp(config, {
    principals: principals.directory,
    // the flow-sunset calendar stands before every announced end's warning window, so a test about
    // something else sees soap and oauth_password connections ok whatever today's date; the sunset
    // tests (test/health/flow-sunset.test.ts) set their own
    now: BEFORE_FLOW_SUNSETS,
    ...(opts.secretStore === 'configured' ? {} : { secretStore: opts.secretStore ?? await tempFileStore(t) }),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...opts.overrides,
  })
  t.teardown(() => app.close())
  await app.ready()
  return { app, principals }
}

/** buildTestApp, listening on a free loopback port: for tests that talk real HTTP (SDK, CLI, health over the network). */
export async function listenTestApp (t: Teardown, opts: TestAppOptions = {}): Promise<{ app: FastifyInstance, principals: TestPrincipals, url: string }> {
  const built = await buildTestApp(t, opts)
  const address = await built.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...built, url: address }
}

export function bearer (key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` }
}
