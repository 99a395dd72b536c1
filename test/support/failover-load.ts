import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore, TEST_KEY, type Teardown } from '../helper.ts'
import { testPrincipals } from './principals.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'
import type { FileSecretStore } from '../../src/secrets/file-store.ts'
import { until } from './redis-topologies.ts'
import { captureLogs, type LogCapture } from './log-capture.ts'

/**
 * Healthy connections, each in an org of its own so the simulator counts its logins apart. Their hash
 * slots (CRC16 mod 16384: conn-a 6658, conn-b 10849, conn-c 14912, conn-wrong 9640) put conn-a, conn-b
 * and conn-wrong on the same one of three masters, conn-c on another.
 */
export const HEALTHY = ['conn-a', 'conn-b', 'conn-c'] as const
/** A connection nobody asked for before the failover: its first login happens during it (an org of its own). */
export const COLD = 'conn-cold'
/** A connection whose stored password is wrong: its circuit is the lockout-guard state that must survive. */
export const LOCKED = 'conn-wrong'

export interface Fleet {
  sim: Simulator
  store: FileSecretStore
  apps: FastifyInstance[]
  /** the caller's headers */
  auth: Record<string, string>
  /** the admin's headers */
  adminAuth: Record<string, string>
  ask (replica: number, connection: string): Promise<LightMyRequestResponse>
  /** one more broker replica (fresh process memory) on the same Redis */
  addReplica (): Promise<FastifyInstance>
  /** each replica's warnings and errors (its Redis connections' among them), by app */
  logs: Map<FastifyInstance, LogCapture>
}

/** Three broker replicas on the given Redis settings, one simulator, the connections stored. */
export async function redisFleet (t: Teardown, redisEnv: Record<string, string>, n = 3): Promise<Fleet> {
  // acmeDefinition also builds the acme org's URLs: it is there too, unused
  const orgs = [acmeOrg(), ...[...HEALTHY, LOCKED, COLD].map(key => acmeOrg({ key }))]
  const sim = await startSim(t, orgs, 20)
  const store = await tempFileStore(t)
  for (const name of HEALTHY) await store.write(name, acmeDefinition(sim, 'client_credentials', { loginUrl: sim.myDomainUrl(name) }), 0)
  await store.write(COLD, acmeDefinition(sim, 'client_credentials', { loginUrl: sim.myDomainUrl(COLD) }), 0)
  await store.write(LOCKED, acmeDefinition(sim, 'oauth_password', { loginUrl: sim.myDomainUrl(LOCKED), password: 'not-the-password' }), 0)
  const principals = testPrincipals([...HEALTHY, LOCKED, COLD], 1_000_000)
  const env = {
    ...redisEnv,
    SESSION_ENCRYPTION_KEY: TEST_KEY,
    REDIS_KEY_PREFIX: 'sfbtest:',
    // the circuit must outlive the test: it is the state a failover may not lose
    CIRCUIT_COOLDOWN_SECONDS: '600',
    CIRCUIT_MAX_COOLDOWN_SECONDS: '3600',
    // set to the failover time, as the README asks: beside `stress --cpu 2` a Sentinel failover took
    // 12 s, past the 5 s default, and a connection first asked for meanwhile then cost one login per
    // replica (the documented fallback, not the wait this tests); and the requests' own wait for a
    // login above it, as the README asks too, or a request waiting behind that login gives up first
    REDIS_FAILOVER_WAIT_MS: '20000',
    LOGIN_WAIT_TIMEOUT_MS: '30000',
  }
  const logs = new Map<FastifyInstance, LogCapture>()
  const addReplica = async () => {
    const capture = captureLogs('warn')
    const { app } = await buildTestApp(t, { secretStore: store, principals, env, logger: capture.logger })
    logs.set(app, capture)
    return app
  }
  const apps: FastifyInstance[] = []
  for (let i = 0; i < n; i++) apps.push(await addReplica())
  return {
    sim,
    store,
    apps,
    addReplica,
    logs,
    auth: bearer(principals.billingKey),
    adminAuth: bearer(principals.adminKey),
    ask: (replica, connection) => apps[replica % apps.length].inject({ method: 'POST', url: `/v1/connections/${connection}/session`, headers: bearer(principals.billingKey) }),
  }
}

export interface LoadResult {
  requests: number
  failed: number
  /** ms from the first failed answer to the last one (0 when none failed) */
  failingForMs: number
  statuses: Record<string, number>
}

/**
 * Session requests for the healthy connections, round-robin over the replicas, `concurrency` in
 * flight, until `stop()` resolves; every answer is counted.
 */
export async function underLoad (fleet: Fleet, during: () => Promise<void>, concurrency = 6): Promise<LoadResult> {
  const state = { running: true }
  let i = 0
  const result: LoadResult = { requests: 0, failed: 0, failingForMs: 0, statuses: {} }
  let firstFail = 0
  let lastFail = 0
  const worker = async () => {
    while (state.running) {
      const n = i++
      const res = await fleet.ask(n, HEALTHY[n % HEALTHY.length])
      result.requests++
      result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1
      if (res.statusCode !== 200) {
        result.failed++
        lastFail = Date.now()
        firstFail ||= lastFail
      }
      // a steady load, not a busy loop: an answer from process memory involves no I/O, and the
      // fault injection's timers must run. 6 workers × one request per ~20 ms: some 300 a second,
      // a failure window measured to ~20 ms (at 5 ms it was 6,000 requests a run, CPU the failover
      // itself then had to share)
      await pause(20)
    }
  }
  const workers = Array.from({ length: concurrency }, worker)
  try {
    await during()
  } finally {
    state.running = false
    await Promise.all(workers)
  }
  result.failingForMs = firstFail ? lastFail - firstFail : 0
  return result
}

export const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export const problemType = (res: { json: () => { type?: string } }) => res.json().type ?? ''

export async function warmUp (t: Test, fleet: Fleet): Promise<Record<string, number>> {
  for (const name of HEALTHY) {
    for (let r = 0; r < fleet.apps.length; r++) t.equal((await fleet.ask(r, name)).statusCode, 200, `${name} on replica ${r}`)
  }
  // the wrong password fails once at Salesforce; the circuit then holds every replica back
  t.equal((await fleet.ask(0, LOCKED)).statusCode, 503)
  t.match(problemType(await fleet.ask(1, LOCKED)), /circuit_open/)
  t.equal(fleet.sim.stats(LOCKED).failures, 1)
  return Object.fromEntries(HEALTHY.map(n => [n, fleet.sim.stats(n).attempts]))
}

export async function allReady (apps: FastifyInstance[], logs?: Map<FastifyInstance, LogCapture>): Promise<void> {
  let last: string[] = []
  await until('every replica ready again', async () => {
    const answers = await Promise.all(apps.map(a => a.inject({ url: '/health/ready' })))
    // what each replica said last, and what a replica still not ready logged: what a timeout here has to tell
    last = answers.map((a, r) => `replica ${r}: ${a.statusCode} ${JSON.stringify(a.json().checks?.sharedState ?? a.body)}` +
      (a.statusCode === 200 ? '' : ` logged: ${logs?.get(apps[r])?.text().split('\n').slice(-8).join(' | ') ?? '(not captured)'}`))
    return answers.every(a => a.statusCode === 200)
  }, 60_000).catch((err: Error) => {
    throw new Error(`${err.message} (${last.join('; ')})`)
  })
}

/** A rotation on one replica still purges the others at once (pub/sub), and any replica lists it (audit stream). */
export async function invalidationStillWorks (t: Test, fleet: Fleet): Promise<void> {
  const name = HEALTHY[1]
  const before = (await fleet.ask(1, name)).json().accessToken
  const loginsBefore = fleet.sim.stats(name).attempts
  const rotated = await fleet.apps[0].inject({ method: 'PATCH', url: `/v1/admin/connections/${name}/credentials`, headers: fleet.adminAuth, payload: { clientSecret: ACME.clientSecret } })
  t.equal(rotated.statusCode, 200, `every replica confirmed the purge (pending: ${JSON.stringify(rotated.json().pending ?? [])})`)
  const tokens = await Promise.all([0, 1, 2].map(async r => (await fleet.ask(r, name)).json().accessToken as string))
  // which session each replica served, and the logins it took: what a failure here has to say
  const served = tokens.map((token, r) => `replica ${r}: ${token === before ? 'the old session' : token === tokens[0] ? 'the rotation\'s session' : 'another new session'}`)
  const logins = fleet.sim.stats(name).attempts - loginsBefore
  // and, when they differ, what each replica warned of (a Redis command that failed says which)
  const warned = new Set(tokens).size === 1 ? '' : `; warnings: ${fleet.apps.map((a, r) => `replica ${r}: ${fleet.logs.get(a)?.text().split('\n').slice(-6).join(' | ') || 'none'}`).join('; ')}`
  t.equal(new Set(tokens).size, 1, `every replica serves the session of the new secret version (${served.join(', ')}; ${logins} logins since the rotation began${warned})`)
  t.notOk(tokens.includes(before), 'the old session was purged everywhere')
  const audit = await fleet.apps[2].inject({ url: `/v1/admin/audit?connection=${name}`, headers: fleet.adminAuth })
  t.match(audit.json().events[0], { action: 'credentials.rotate', outcome: 'success' }, 'the audit stream shows another replica\'s rotation')
}

/**
 * Asks for the cold connection on every replica, twice, spread over `spreadMs` from now (start it
 * right after the kill): returns the statuses and the logins it cost at Salesforce.
 */
export async function coldDuringFailover (fleet: Fleet, spreadMs = 1500): Promise<{ statuses: number[], logins: number, refusals: string[] }> {
  const before = fleet.sim.stats(COLD).attempts
  const n = fleet.apps.length * 2
  const answers = await Promise.all(Array.from({ length: n }, async (_, i) => {
    await pause(Math.round(i * spreadMs / n))
    const started = performance.now()
    const res = await fleet.ask(i, COLD)
    return { status: res.statusCode, refusal: res.statusCode === 200 ? undefined : `${res.statusCode} after ${Math.round(performance.now() - started)} ms: ${res.body.slice(0, 300)}` }
  }))
  return { statuses: answers.map(a => a.status), logins: fleet.sim.stats(COLD).attempts - before, refusals: answers.flatMap(a => a.refusal ?? []) }
}
