import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import healthPlugin from '../../src/health/plugin.ts'
import type { SecretStore } from '../../src/secrets/store.ts'
import { TEST_KEY, type Teardown } from '../helper.ts'
import { testPrincipals, type TestPrincipals } from '../support/principals.ts'

export interface HealthAppOptions {
  secretStore: SecretStore
  redisUrl: string
  env?: Record<string, string>
  principals?: TestPrincipals
}

export interface HealthApp {
  app: FastifyInstance
  principals: TestPrincipals
  /** http://127.0.0.1:PORT */
  url: string
}

/**
 * A broker built by buildApp, with the health plugin registered (unless buildApp already does),
 * listening on a free port: the tests talk to it over real HTTP.
 */
export async function buildHealthApp (t: Teardown, opts: HealthAppOptions): Promise<HealthApp> {
  const principals = opts.principals ?? testPrincipals(['acme', 'globex', 'broken'])
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    SECRET_STORE: 'file',
    FILE_STORE_KEY: TEST_KEY,
    PRINCIPALS_JSON: principals.json,
    LOGIN_URL_ALLOWLIST: 'http://127.0.0.1:*',
    DOCS_ENABLED: 'false',
    LOGIN_TIMEOUT_MS: '3000',
    LOGIN_WAIT_TIMEOUT_MS: '8000',
    // the store is written by the test before the app starts; keep reads fresh anyway
    SECRET_CACHE_TTL_SECONDS: '0',
    REDIS_URL: opts.redisUrl,
    SESSION_ENCRYPTION_KEY: TEST_KEY,
    REDIS_KEY_PREFIX: 'sfbtest:',
    SCHEDULER_ENABLED: 'true',
    VALIDATION_INTERVAL_SECONDS: '1',
    FULL_VALIDATION_INTERVAL_SECONDS: '2',
    VALIDATION_MAX_PER_SECOND: '50',
    ...opts.env,
  })
  const app = await buildApp(config, { principals: principals.directory, secretStore: opts.secretStore })
  if (!app.hasPlugin('sf-broker-health')) await app.register(healthPlugin, { broker: app.broker })
  t.teardown(() => app.close())
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, principals, url }
}

export interface Answer {
  status: number
  headers: Headers
  body: any
}

export async function call (url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init)
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}

/** Polls until `ok(value)` or the time is up; returns the last value. */
export async function eventually<T> (get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 8000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await get()
  while (!ok(value) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, everyMs))
    value = await get()
  }
  return value
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
