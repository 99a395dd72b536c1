import type { FastifyInstance } from 'fastify'
import type { SecretStore } from '../../src/secrets/store.ts'
import { listenTestApp, type Teardown } from '../helper.ts'
import { startRedis, type TestRedis } from '../support/redis.ts'
import { testPrincipals, type TestPrincipals } from '../support/principals.ts'
import { http } from '../support/http.ts'

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
 * A broker built by buildApp with the re-validation scheduler on and fast, listening on a free
 * port: the tests talk to it over real HTTP.
 */
export async function buildHealthApp (t: Teardown, opts: HealthAppOptions): Promise<HealthApp> {
  return listenTestApp(t, {
    secretStore: opts.secretStore,
    redisUrl: opts.redisUrl,
    principals: opts.principals ?? testPrincipals(['acme', 'globex', 'broken']),
    env: {
      // the store is written by the test before the app starts; keep reads fresh anyway
      SECRET_CACHE_TTL_SECONDS: '0',
      SCHEDULER_ENABLED: 'true',
      VALIDATION_INTERVAL_SECONDS: '1',
      FULL_VALIDATION_INTERVAL_SECONDS: '2',
      VALIDATION_MAX_PER_SECOND: '50',
      // these tests read messages, hints and circuits without a key; the public/admin split has its own test (public-surfaces)
      HEALTH_DETAILS: 'public',
      ...opts.env,
    },
  })
}

/** One Redis for a whole test file, emptied before each test that asks for it. */
export function sharedRedis (t: Teardown): () => Promise<TestRedis> {
  const ready = startRedis()
  t.teardown(async () => { await (await ready).close() })
  return async () => {
    const redis = await ready
    await redis.client().flushall()
    return redis
  }
}

export const health = (url: string, connection: string) => http(`${url}/health/salesforce?connection=${connection}`)
export const only = (a: { json: any }) => a.json.connections[0]

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
