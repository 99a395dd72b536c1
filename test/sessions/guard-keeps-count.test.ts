import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import { makeChainedServerCert } from '../support/test-certs.ts'
import { ManualClock } from '../support/manual-clock.ts'
import { loginGuardDoc } from '../../src/shared-state/state-names.ts'
import { loginIdentity } from '../../src/sessions/login-identity.ts'

// The failure guard keeps Salesforce's count: Salesforce's failed-login counter has no time window
// (it resets on a successful login or a lockout), so the broker's must not forget either — over
// hours, while Redis is down, and for a login it gave up on. Outcomes are read at the simulator.

const MINUTE = 60_000
const LOCKOUT = { maxAttempts: 3, durationSeconds: 900 }

/** One replica on the test's clock (the relogin floor, real time, off), a user locked after 3 failures. */
async function replicaOnClock (t: Parameters<typeof startSim>[0], clock: () => number) {
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }, overrides: { clock } })
  return { sim, store, principals, app }
}

/** `count` replicas of one fleet: one Redis, one secret store, the same callers, a user locked after 3 failures. */
async function fleetOnRedis (t: Parameters<typeof startSim>[0], count: number, o: { env?: Record<string, string>, clock?: () => number } = {}) {
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT })])
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const apps: FastifyInstance[] = []
  for (let i = 0; i < count; i++) {
    apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env: o.env ?? {}, ...(o.clock ? { overrides: { clock: o.clock } } : {}) })).app)
  }
  return { sim, redis, store, principals, apps }
}

t.test('a password changed in Salesforce under steady service traffic: hours later, still 2 failed logins and never locked', async (t) => {
  let now = Date.now()
  // default guard and circuit settings
  const { sim, store, principals, app } = await replicaOnClock(t, () => now)
  const session = (payload?: object) => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload })
  const admin = (method: 'POST' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const user = () => sim.org('acme').users.get(ACME.username)!
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  let token = (await session()).json().accessToken as string
  t.equal(sim.stats('acme').failures, 0)

  // someone changes the password in Salesforce; the service keeps asking every minute for 6 hours,
  // reporting its dead session as the SDK does
  sim.org('acme').users.get(ACME.username)!.password = 'changed-in-salesforce'
  sim.expireSessions('acme')
  const seen = new Map<string, number>()
  for (let minute = 0; minute <= 6 * 60; minute++) {
    const r = await session({ rejectedToken: token })
    seen.set(r.json().code, (seen.get(r.json().code) ?? 0) + 1)
    now += MINUTE
  }
  t.equal(user().failedLogins, 2, 'two failed logins at Salesforce in 6 simulated hours: one short of the lockout')
  t.equal(user().lockedUntil, 0, 'never locked')
  t.ok((seen.get('login_guarded') ?? 0) > 300, `the guard answered from the second failure on (${JSON.stringify(Object.fromEntries(seen))})`)
  const guarded = await session()
  t.match(guarded.json(), { code: 'login_guarded', failures: 2, lockoutThreshold: 3, retryable: false })
  t.equal(guarded.json().safeAt, undefined, 'no time makes it safe')

  const health = (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json()
  t.match(health.connections[0].loginGuard, { failures: 2, lockoutThreshold: 3, blocked: true, source: 'fleet' }, 'health shows the count (one replica without Redis: its memory is the whole fleet)')

  // the admin's way out: reset the password in Salesforce (its count starts over), say so, store the new secret
  const reset = await (await fetch(`${sim.loginUrl}/_sim/orgs/acme/users/${ACME.username}/reset-password`, { method: 'POST' })).json() as { password: string, securityToken: string }
  user().failedLogins = 0
  const rotateTooSoon = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: reset.password, securityToken: reset.securityToken })
  t.equal(rotateTooSoon.statusCode, 429, 'even the right candidate waits until the admin says the count is zero: a wrong one would lock the user')
  const ack = await admin('POST', '/health/salesforce/acme/check', { failedLoginsReset: true })
  t.equal(ack.statusCode, 200)
  t.equal(user().failedLogins, 0, 'the acknowledgement itself sends nothing with the stale secret')
  const rotated = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: reset.password, securityToken: reset.securityToken })
  t.equal(rotated.statusCode, 200)
  token = (await session()).json().accessToken
  t.type(token, 'string', 'callers are served again')
  const audit = (await app.inject({ method: 'GET', url: '/v1/admin/audit?action=guard.reset', headers: bearer(principals.adminKey) })).json()
  t.equal(audit.events.length, 1, 'the reset is audited')
})

t.test('the failed login that stops the guard says so: no Retry-After, not retryable, the count and what to do', async (t) => {
  let now = Date.now()
  const { sim, store, principals, app } = await replicaOnClock(t, () => now)
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password' }), 0)
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })

  const first = await session()
  t.match(first.json(), { code: 'salesforce_login_failed', retryable: true }, 'after one failure the circuit pauses, then one probe')
  t.ok(Number(first.headers['retry-after']) > 0)
  now += 20 * MINUTE
  const second = await session()
  t.match(second.json(), { code: 'salesforce_login_failed', classification: 'invalid_credentials', retryable: false, failures: 2, lockoutThreshold: 3, hint: /Unlock/, detail: /^Salesforce answered: Invalid username/ })
  t.equal(second.headers['retry-after'], undefined, 'no time makes another login safe: an admin acts')
  t.equal(sim.org('acme').users.get(ACME.username)!.failedLogins, 2)
})

t.test('an admin\'s wrong candidates 16 minutes apart never lock the user', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  let now = Date.now()
  const { app } = await buildTestApp(t, { secretStore: store, principals, overrides: { clock: () => now } })
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const codes = []
  for (let i = 0; i < 5; i++) {
    const r = await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password: `wrong-${i}` } })
    codes.push(r.statusCode)
    now += 16 * MINUTE
  }
  t.same(codes, [200, 200, 429, 429, 429], 'two candidates reach Salesforce, then the guard refuses, however far apart')
  t.equal(sim.org('acme').users.get(ACME.username)!.failedLogins, 2)
  t.equal(sim.org('acme').users.get(ACME.username)!.lockedUntil, 0)
})

t.test('a password login the broker gave up on counts as failed, and is not retried', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  // the broker waits 1 s, Salesforce answers after 2.5 s: time enough for the request to arrive on a
  // loaded machine (a 200 ms wait was sometimes over before it did, and Salesforce then saw no login at all)
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { LOGIN_TIMEOUT_MS: '1000', LOGIN_RETRIES: '2' } })
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password' }), 0)
  sim.setLatency(2_500)
  const r = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(r.statusCode, 503)
  t.equal(r.json().classification, 'unreachable')
  // Salesforce judges the login after the broker stopped waiting: wait for that, at the simulator
  const user = sim.org('acme').users.get(ACME.username)!
  for (let i = 0; i < 200 && user.failedLogins < 1; i++) await new Promise(resolve => setTimeout(resolve, 50))
  // a retry would have been sent 100–300 ms after the first wait ended (1 s), and judged 2.5 s after
  // that, before 4 s: wait until 5 s at least
  await new Promise(resolve => setTimeout(resolve, 2_500))
  t.equal(sim.stats('acme').attempts, 1, 'one login sent, not 1 + LOGIN_RETRIES')
  t.equal(user.failedLogins, 1, 'which Salesforce counted')
  const health = (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json()
  t.equal(health.connections[0].loginGuard.failures, 1, 'and so did the guard')
})

t.test('a gateway that forwarded a password login and answered 504 itself: counted as failed, never sent again, the user never locked', async (t) => {
  // an egress proxy passes the login on, gives up waiting for Salesforce's answer and answers 504 itself:
  // Salesforce judged the password all the same
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT })])
  const gateway = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const headers = { 'content-type': req.headers['content-type'] ?? '', soapaction: String(req.headers.soapaction ?? '') }
      fetch(`${sim.loginUrl}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) })
        .then(r => r.arrayBuffer())
        .finally(() => res.writeHead(504, { 'content-type': 'text/html' }).end('<html><body>504 Gateway Time-out</body></html>'))
        .catch(() => {})
    })
  })
  await new Promise<void>(resolve => gateway.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => gateway.close(() => resolve())))
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  let now = Date.now()
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }, overrides: { clock: () => now } })
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password', loginUrl: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}` }), 0)
  const user = sim.org('acme').users.get(ACME.username)!

  const first = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(first.statusCode, 503)
  t.equal(sim.stats('acme').attempts, 1, 'one login sent for the request, not 1 + LOGIN_RETRIES')
  const answers = []
  for (let i = 0; i < 4; i++) {
    now += 5 * MINUTE
    answers.push((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).json())
  }
  const stopped = answers.find(a => a.failures === 2)
  t.match(stopped, { code: 'salesforce_login_failed', retryable: false, detail: /^The login failed: .*504.*That makes 2 failed logins/ }, 'the answer that stops the guard does not claim Salesforce answered')
  t.equal(user.failedLogins, LOCKOUT.maxAttempts - 1, 'Salesforce counted one short of the lockout')
  t.notOk(user.lockedUntil, 'and never locked the user')
  const health = (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json()
  t.equal(health.connections[0].loginGuard.failures, LOCKOUT.maxAttempts - 1, 'the guard counted what Salesforce counted')
})

t.test('a login host whose certificate the broker refuses was sent no password: the guard does not count it, and the hint says why', async (t) => {
  // behind a TLS-inspecting egress proxy whose CA the broker was not given: the handshake fails
  // before the request is written, so Salesforce cannot have counted anything
  const dir = await mkdtemp(join(tmpdir(), 'sfb-untrusted-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  let requests = 0
  const host = createHttpsServer(await makeChainedServerCert(dir), () => { requests++ })
  await new Promise<void>(resolve => host.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => host.close(() => resolve())))
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { LOGIN_URL_ALLOWLIST: 'https://127.0.0.1:*' } })
  const loginUrl = `https://127.0.0.1:${(host.address() as AddressInfo).port}`
  await store.write('acme', { flow: 'soap', loginUrl, username: ACME.username, password: ACME.password, securityToken: ACME.securityToken, apiVersion: '62.0', sessionTimeoutSeconds: 7200 }, 0)
  // more such logins than the guard lets through (it holds the third of a 3-attempt lockout)
  for (let i = 0; i < 4; i++) {
    const result = (await app.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password: `candidate-${i}` } })).json()
    t.match(result, { ok: false, classification: 'unreachable', message: /UNABLE_TO_GET_ISSUER_CERT_LOCALLY/ }, `candidate ${i}: the certificate problem is named, not held back by the guard`)
    t.match(result.hint, /NODE_EXTRA_CA_CERTS/, 'and the hint says what to do')
  }
  const health = (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json()
  t.equal(health.connections[0].loginGuard?.failures ?? 0, 0, 'the guard counted none of them')
  t.equal(requests, 0, 'no request reached the host')
})

t.test('Redis restarted empty: another replica still knows the count and sends no locking login', async (t) => {
  // replica 0 counts two failed logins and stops; Redis then loses its data (a restart without
  // persistence, a failover to a replica that had not caught up); replica 1 never counted anything itself
  let now = Date.now()
  const { sim, redis, store, principals, apps } = await fleetOnRedis(t, 2, { env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }, clock: () => now })
  const session = (i: number) => apps[i].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password' }), 0)
  const user = sim.org('acme').users.get(ACME.username)!

  const answers: string[] = []
  for (let i = 0; i < 3; i++) {
    answers.push((await session(0)).json().code)
    now += 20 * MINUTE
  }
  t.same(answers, ['salesforce_login_failed', 'salesforce_login_failed', 'login_guarded'])
  t.equal(user.failedLogins, 2)
  // what replica 1 heard of the count (a health read would ask Redis, which still has it)
  const heard = async () => (await apps[1].broker.sharedState.tiers?.local.getJson<{ failures: number[] }>(loginGuardDoc(loginIdentity(acmeDefinition(sim, 'soap')))))?.failures.length ?? 0
  for (let i = 0; i < 200 && await heard() < 2; i++) await new Promise(resolve => setTimeout(resolve, 10))

  await redis.flush()
  const other = await session(1)
  t.equal(other.json().code, 'login_guarded', 'replica 1 holds the login back too')
  t.equal(user.failedLogins, 2, 'Salesforce saw no third failed login')
  t.notOk(user.lockedUntil, 'the user is not locked')
})

t.test('3 replicas with Redis stopped: no password login is tried, cached sessions keep serving, the answer says why', async (t) => {
  const { sim, redis, store, principals, apps } = await fleetOnRedis(t, 3, { env: { SECRET_CACHE_TTL_SECONDS: '0' } })
  const session = (i: number, payload?: object) => apps[i].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload })
  const admin = (i: number, payload: object) => apps[i].inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload })
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  await store.write('acme-jwt', acmeDefinition(sim, 'jwt_bearer'), 0)
  const tokens = []
  for (let i = 0; i < 3; i++) tokens.push((await session(i)).json().accessToken)
  t.equal(new Set(tokens).size, 1)

  await redis.stop()
  for (let i = 0; i < 3; i++) t.equal((await session(i)).json().accessToken, tokens[0], `replica ${i} serves its cached session`)

  sim.org('acme').users.get(ACME.username)!.password = 'changed-in-salesforce'
  sim.expireSessions('acme')
  const answers = []
  for (let i = 0; i < 3; i++) answers.push(await session(i, { rejectedToken: tokens[0] }))
  for (let i = 0; i < 2; i++) for (const c of ['wrong-a', 'wrong-b']) answers.push(await admin(i, { password: `${c}-${i}` }))
  const user = sim.org('acme').users.get(ACME.username)!
  t.equal(user.failedLogins, 0, 'no failed login at Salesforce from 3 session requests and 4 admin candidates')
  t.equal(user.lockedUntil, 0)
  t.same([...new Set(answers.map(a => a.statusCode))], [503])
  t.same([...new Set(answers.map(a => a.json().code))], ['login_guard_unavailable'])
  t.match(answers[0].json().hint, /Redis/)
  t.equal(answers[0].headers['retry-after'], '5')

  // flows that send no password go on
  const jwt = await apps[1].inject({ method: 'POST', url: '/v1/connections/acme-jwt/session', headers: bearer(principals.billingKey) })
  t.equal(jwt.statusCode, 200, 'a JWT bearer connection still logs in')

  // health says whose count it shows: this replica's, since the fleet's cannot be read
  const guard = (await apps[2].inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json().connections[0].loginGuard
  t.match(guard, { source: 'replica', failures: 0, blocked: false })
})

t.test('where another session of the org may read it, Salesforce\'s own count decides, and health says so', async (t) => {
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT, users: [{ username: ACME.username, password: ACME.password, securityToken: ACME.securityToken, permissions: { PermissionsApiEnabled: true, PermissionsManageUsers: true } }] })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  let now = Date.now()
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }, overrides: { clock: () => now } })
  const session = (name: string, payload?: object) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey), payload })
  const guardView = async () => (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json().connections[0].loginGuard
  const user = () => sim.org('acme').users.get(ACME.username)!
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  // a JWT bearer connection of the same org: its session can read user administration data
  await store.write('acme-jwt', acmeDefinition(sim, 'jwt_bearer'), 0)
  const token = (await session('acme')).json().accessToken
  t.equal((await session('acme-jwt')).statusCode, 200)

  // the password changes in Salesforce; the soap session is revoked, reported, and the guard trips
  user().password = 'changed-in-salesforce'
  await fetch(`${sim.loginUrl}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token }) })
  for (let minute = 0; minute < 30; minute++) {
    await session('acme', { rejectedToken: token })
    now += MINUTE
  }
  t.equal(user().failedLogins, 2)
  t.match(await guardView(), { failures: 2, blocked: true, reliedOn: 'salesforce', salesforce: { failedLogins: 2, locked: false, via: 'acme-jwt' } }, 'the count Salesforce reports, read through the other connection')

  // an admin puts the password back and unlocks in Setup, and tells the broker nothing
  user().password = ACME.password
  user().failedLogins = 0
  now += 2 * MINUTE
  const served = await session('acme')
  t.equal(served.statusCode, 200, 'Salesforce says the count is zero: the guard lets the login go, and it succeeds')
  t.equal(user().failedLogins, 0)
  t.match(await guardView(), { failures: 0, blocked: false, reliedOn: 'broker' })
})

t.test('a login Salesforce accepted with an expired password resets the count, as at Salesforce: the admin\'s fix goes through', async (t) => {
  let now = Date.now()
  const { sim, store, principals, app } = await replicaOnClock(t, () => now)
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password' }), 0)
  const admin = (method: 'POST' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const user = () => sim.org('acme').users.get(ACME.username)!
  const guard = async () => (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json().connections[0].loginGuard

  t.match((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).json(), { code: 'salesforce_login_failed', classification: 'invalid_credentials' })
  t.equal(user().failedLogins, 1, 'one failed login at Salesforce')

  // the admin sends the right password, which has expired meanwhile: login() "returns a valid sessionId,
  // but the only allowable operation is the setPassword() call" (SOAP API Developer Guide, LoginResult)
  user().passwordExpired = true
  const expired = await admin('POST', '/v1/admin/connections/acme/validate', { password: ACME.password })
  t.match(expired.json(), { ok: false, classification: 'password_expired' })
  t.equal(user().failedLogins, 0, 'Salesforce took the right password: its count went back to zero')
  t.match(await guard(), { failures: 0, blocked: false }, 'and so did the guard\'s')

  // Setup: the admin sets a new password; the broker gets it, with no acknowledgement needed
  user().passwordExpired = false
  user().password = 'new-password-after-expiry'
  now += MINUTE
  const rotated = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: 'new-password-after-expiry' })
  t.match({ status: rotated.statusCode, body: rotated.json() }, { status: 200, body: { version: 2 } }, 'the new password is stored: no acknowledgement needed')
  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).statusCode, 200)
  t.equal(user().failedLogins, 0)
})

t.test('Retry-After and safeAt are read on the same clock: a refused candidate an hour later waits 23 hours, not 24', async (t) => {
  let now = Date.now()
  const { sim, store, principals, app } = await replicaOnClock(t, () => now)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const validate = () => app.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password: 'typo-in-the-candidate' } })
  t.match((await validate()).json(), { ok: false, classification: 'invalid_credentials' })
  now += 60 * MINUTE
  const again = await validate()
  t.equal(again.statusCode, 429)
  const waits = Number(again.headers['retry-after'])
  t.equal(waits, Math.ceil((Date.parse(again.json().safeAt) - now) / 1000), `Retry-After ${waits} s is safeAt less the broker's time`)
  t.equal(sim.org('acme').users.get(ACME.username)!.failedLogins, 1, 'the candidate went out once')
})

t.test('health names the guard when it holds a check back, not a Salesforce verdict it did not get', async (t) => {
  const clock = new ManualClock()
  const sim = await startSim(t, [acmeOrg({ lockout: LOCKOUT })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  // a Clock moves logins and health's judgement of time together
  const { app } = await buildTestApp(t, { secretStore: store, principals, env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }, overrides: { clock } })
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password' }), 0)
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  await session()
  await clock.advance(20 * MINUTE)
  t.match((await session()).json(), { failures: 2, lockoutThreshold: 3, retryable: false })

  // hours later, the circuit's pause long over: an SRE's forced check sends nothing
  await clock.advance(6 * 60 * MINUTE)
  const check = await app.inject({ method: 'POST', url: '/health/salesforce/acme/check', headers: bearer(principals.adminKey) })
  t.match(check.json(), { status: 'failing', classification: 'login_guarded', checkKind: 'none', message: /^not attempted: 2 failed logins/ })
  const shown = (await app.inject({ method: 'GET', url: '/health/salesforce?connection=acme', headers: bearer(principals.adminKey) })).json().connections[0]
  t.match(shown, { status: 'failing', classification: 'login_guarded', loginGuard: { failures: 2, blocked: true } })
  t.equal(sim.org('acme').users.get(ACME.username)!.failedLogins, 2, 'the check sent no login')
})

t.test('health and the connection\'s metadata judge the circuit on the logins\' clock: open, then half-open together', async (t) => {
  let now = Date.now()
  const { sim, store, principals, app } = await replicaOnClock(t, () => now)
  await store.write('acme', acmeDefinition(sim, 'soap', { password: 'stale-password' }), 0)
  const admin = bearer(principals.adminKey)
  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).json().code, 'salesforce_login_failed')
  const circuits = async () => [
    (await app.inject({ url: '/health/salesforce?connection=acme', headers: admin })).json().connections[0].circuit.state,
    (await app.inject({ url: '/v1/admin/connections/acme', headers: admin })).json().circuit.state,
  ]
  t.same(await circuits(), ['open', 'open'])
  now += 24 * 60 * MINUTE
  t.same(await circuits(), ['half_open', 'half_open'], 'a day later both say one probe may go')
})
