import type { FastifyInstance } from 'fastify'
import type { BrokerOverrides } from '../../src/broker.ts'
import type { SecretStore } from '../../src/secrets/store.ts'
import { listenTestApp, type Teardown } from '../helper.ts'
import { startRedis, type TestRedis } from '../support/redis.ts'
import { testPrincipals, type TestPrincipals } from '../support/principals.ts'
import { http, type HttpAnswer } from '../support/http.ts'
import { ManualClock } from '../support/manual-clock.ts'

export interface HealthAppOptions {
  secretStore: SecretStore
  redisUrl: string
  env?: Record<string, string>
  principals?: TestPrincipals
  /** e.g. `clock`: a ManualClock runs the validation rounds (nextRound) */
  overrides?: BrokerOverrides
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
  const built = await listenTestApp(t, {
    secretStore: opts.secretStore,
    redisUrl: opts.redisUrl,
    principals: opts.principals ?? testPrincipals(['acme', 'globex', 'broken']),
    ...(opts.overrides ? { overrides: opts.overrides } : {}),
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
  const clock = opts.overrides?.clock
  if (clock instanceof ManualClock) {
    const schedulers = schedulersOn.get(clock) ?? []
    schedulers.push(() => built.app.broker.health.idle())
    schedulersOn.set(clock, schedulers)
  }
  return built
}

/** Each ManualClock's schedulers (one per app built on it), to wait for before a round starts. */
const schedulersOn = new WeakMap<ManualClock, (() => Promise<void>)[]>()

/**
 * Waits until no app on `clock` is still busy with a validation (a result is visible before the
 * work after it is done: gauges, date thresholds, a due rotation). A slot that finds its connection
 * still running skips its round, which on a loaded machine made a round go by unchecked.
 */
export async function schedulersIdle (clock: ManualClock): Promise<void> {
  await Promise.all((schedulersOn.get(clock) ?? []).map(idle => idle()))
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

/** VALIDATION_INTERVAL_SECONDS of buildHealthApp, in ms */
export const INTERVAL_MS = 1000

/** The first round boundary after `epochMs` (rounds are epoch multiples of the interval). */
export const roundStartAfter = (epochMs: number) => epochMs - (epochMs % INTERVAL_MS) + INTERVAL_MS

/**
 * A ManualClock for the scheduler, the checks and the login gate, starting on a round boundary ten
 * minutes ahead of the real time: Salesforce (the simulator) stamps sessions with its own time
 * (issued_at), and a login's stamp must never look newer than the rounds the test moves, or the
 * next full check would wait for real time to pass.
 */
export const roundClock = () => new ManualClock(roundStartAfter(Date.now() + 10 * 60_000))

/**
 * One validation round on a ManualClock (buildHealthApp with `overrides: { clock }`): moves to the
 * next round's start, waits until the round is planned (the store listed its connections and the
 * slots are set), moves through the slots (80 % of the interval, plus jitter), and answers the
 * health of `connection` once its check in this round is recorded. `connections`: how many the
 * store holds (one slot each).
 */
export async function nextRound (clock: ManualClock, url: string, connection: string, connections = 1): Promise<HttpAnswer> {
  await schedulersIdle(clock)
  const before = only(await health(url, connection)).lastCheckedAt
  const roundStart = roundStartAfter(clock.now())
  await clock.advanceTo(roundStart)
  await throughSlots(clock, connections)
  // the round's time is the test's; the wait is for a loaded machine to do the round's work
  const answer = await eventually(() => health(url, connection), a => only(a).lastCheckedAt !== before, ROUND_WORK_MS)
  if (only(answer).lastCheckedAt === before) {
    // say so here: the assertion after a stale answer would name a symptom, not the missing round
    const at = (ms: number) => new Date(ms).toISOString()
    throw new Error(`nextRound: no check of ${connection} was recorded within ${ROUND_WORK_MS} ms of the round starting at ${at(roundStart)} (last check ${String(before)}; clock ${at(clock.now())}; ${clock.pending} timers pending)`)
  }
  return answer
}

/** How long nextRound waits in real time for a round's check to be recorded (a loaded machine is slow). */
const ROUND_WORK_MS = 30_000

/**
 * Rounds on the ManualClock (nextRound) until `ok` holds for `connection`'s health, at most
 * `maxRounds`; returns the last answer (the test's assertions say what was wrong).
 */
export async function roundsUntil (clock: ManualClock, url: string, connection: string, ok: (a: HttpAnswer) => boolean, maxRounds = 6): Promise<HttpAnswer> {
  for (let round = 1; ; round++) {
    const answer = await nextRound(clock, url, connection)
    if (ok(answer) || round >= maxRounds) return answer
  }
}

/**
 * After a round started (or the scheduler did): waits for its slots to be set, then moves through
 * them. `replicas`: how many brokers run their schedulers on this clock.
 */
export async function throughSlots (clock: ManualClock, connections = 1, replicas = 1): Promise<void> {
  await clock.untilPending(replicas * (1 + connections)) // each replica's next-round timer and one slot per connection
  await clock.advance(INTERVAL_MS * 0.85)
}
