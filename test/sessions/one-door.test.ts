import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ACME, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { login as salesforceLogin, createLoginUrlPolicy } from '../../src/salesforce/index.ts'
import { ALIVE_TRUSTED_MS } from '../../src/sessions/rejection-check.ts'
import { testPrincipals } from '../support/principals.ts'

// Every path to Salesforce passes one door that owns the lockout guard and the login budget.

const ADMIN = '/v1/admin/connections'

async function setup (t: Parameters<typeof startSim>[0], env: Record<string, string> = {}, lockout = { maxAttempts: 3, durationSeconds: 900 }) {
  const sim = await startSim(t, [acmeOrg({ lockout })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, env })
  const admin = (method: 'GET' | 'PUT' | 'PATCH' | 'POST', url: string, payload?: object) =>
    app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (payload?: object) => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey), payload })
  const user = () => sim.org('acme').users.get(ACME.username)!
  return { sim, store, app, principals, admin, session, user }
}

t.test('observation 1: admin candidates never lock the integration user out', async (t) => {
  const { sim, store, admin, session, user } = await setup(t)
  const soap = acmeDefinition(sim, 'soap')

  // one typo, then the right password: fine, and Salesforce's count starts over
  const typo = await admin('PUT', `${ADMIN}/acme`, { ...soap, password: 'Corr3ct-Horse-Batery' })
  t.equal(typo.statusCode, 422)
  const created = await admin('PUT', `${ADMIN}/acme`, soap)
  t.equal(created.statusCode, 201)
  t.equal(user().failedLogins, 0)

  // six rotations with wrong passwords, four validations of a wrong candidate
  const patches = []
  for (let i = 0; i < 6; i++) patches.push(await admin('PATCH', `${ADMIN}/acme/credentials`, { password: `wrong-${i}` }))
  const validations = []
  for (let i = 0; i < 4; i++) validations.push(await admin('POST', `${ADMIN}/acme/validate`, { password: 'wrong-v' }))
  t.same(patches.map(r => r.statusCode), [422, 422, 429, 429, 429, 429], 'two reach Salesforce, then the guard answers')
  t.same(validations.map(r => r.statusCode), [429, 429, 429, 429])

  t.ok(user().failedLogins <= 2, `the simulated user has ${user().failedLogins} failed logins (at most 2)`)
  t.equal(user().lockedUntil, 0, 'the user is not locked')
  const guarded = patches[5].json()
  t.match(guarded, {
    type: 'urn:sf-broker:problem:login_guarded',
    status: 429,
    connection: 'acme',
    failures: 2,
    lockoutThreshold: 3,
  })
  t.equal(guarded.safeAt, undefined, 'no time makes it safe: Salesforce\'s count does not expire')
  t.equal(guarded.retryable, false, 'an admin must act')
  t.match(guarded.hint, /Login History/)
  t.match(guarded.hint, /Unlock/)
  t.match(guarded.hint, /failedLoginsReset/)
  t.equal(patches[5].headers['retry-after'], undefined)
  t.equal((await store.read('acme'))?.version, 1, 'nothing was stored')

  // the stored password still works: at Salesforce, and for callers (the cached session)
  const direct = await salesforceLogin(soap, { timeoutMs: 3000, allowedLoginHosts: createLoginUrlPolicy({ extraAllowedOrigins: ['http://127.0.0.1:*'] }) })
  t.equal(direct.ok, true, 'Salesforce still accepts the stored password')
  t.equal((await session()).statusCode, 200)
})

t.test('observation 1: the same failing candidate is never sent twice, and the stored secret is not re-sent while its circuit is open', async (t) => {
  const { sim, admin, session } = await setup(t, { LOCKOUT_THRESHOLD: '10' }, { maxAttempts: 10, durationSeconds: 900 })
  const soap = acmeDefinition(sim, 'soap')
  t.equal((await admin('PUT', `${ADMIN}/acme`, soap)).statusCode, 201)

  const first = await admin('POST', `${ADMIN}/acme/validate`, { password: 'same-wrong' })
  t.equal(first.statusCode, 200)
  t.equal(first.json().classification, 'invalid_credentials')
  const before = sim.stats('acme').attempts
  const again = await admin('POST', `${ADMIN}/acme/validate`, { password: 'same-wrong' })
  t.equal(again.statusCode, 429)
  t.equal(again.json().type, 'urn:sf-broker:problem:login_guarded')
  const patch = await admin('PATCH', `${ADMIN}/acme/credentials`, { password: 'same-wrong' })
  t.equal(patch.statusCode, 429, 'the same candidate through another route')
  t.equal(sim.stats('acme').attempts, before, 'neither reached Salesforce')

  // the stored secret goes stale at Salesforce: a caller's miss fails once and opens the circuit
  sim.org('acme').users.get(ACME.username)!.password = 'changed-in-salesforce'
  sim.expireSessions('acme')
  t.equal((await session({ rejectedToken: (await session()).json().accessToken })).statusCode, 503)
  const afterMiss = sim.stats('acme').attempts
  // validating the stored secret (or a candidate that changes nothing secret) sends nothing more
  for (const body of [undefined, { apiVersion: '63.0' }]) {
    const r = await admin('POST', `${ADMIN}/acme/validate`, body)
    t.equal(r.statusCode, 200)
    t.match(r.json().message, /not attempted/)
  }
  t.equal(sim.stats('acme').attempts, afterMiss, 'no login with a secret whose circuit is open')
})

t.test('observation 2: false rejectedToken claims cost no login; a really expired session is healed with exactly one', async (t) => {
  const { sim, store, session } = await setup(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  const live = (await session()).json().accessToken
  t.equal(sim.stats('acme').attempts, 1)

  const claims = []
  for (let i = 0; i < 20; i++) claims.push(await session({ rejectedToken: live }))
  t.same([...new Set(claims.map(c => c.statusCode))], [200])
  t.same([...new Set(claims.map(c => c.json().accessToken))], [live], 'Salesforce says the session is alive: the same session back')
  t.ok(sim.stats('acme').attempts <= 2, `20 false claims: ${sim.stats('acme').attempts - 1} logins (at most 1)`)

  const before = sim.stats('acme').attempts
  sim.expireSessions('acme')
  // Salesforce's "alive" answer is trusted for ALIVE_TRUSTED_MS: a claim after that is checked again
  await new Promise(resolve => setTimeout(resolve, ALIVE_TRUSTED_MS + 200))
  const healed = await Promise.all(Array.from({ length: 10 }, () => session({ rejectedToken: live })))
  t.same([...new Set(healed.map(c => c.statusCode))], [200])
  const fresh = new Set(healed.map(c => c.json().accessToken))
  t.equal(fresh.size, 1)
  t.not([...fresh][0], live)
  t.equal(sim.stats('acme').attempts, before + 1, 'exactly one login for a session Salesforce really rejected')
})

t.test('observation 3: stored secrets only go where they are stored for; the audit names the target', async (t) => {
  const { sim, admin, app, principals } = await setup(t)
  const received: string[] = []
  const elsewhere = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { received.push(body); res.writeHead(500).end() })
  })
  await new Promise<void>(resolve => elsewhere.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => elsewhere.close(() => resolve())))
  const otherOrigin = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`

  t.equal((await admin('PUT', `${ADMIN}/acme`, acmeDefinition(sim, 'soap'))).statusCode, 201)
  const leak = await admin('POST', `${ADMIN}/acme/validate`, { loginUrl: otherOrigin })
  t.equal(leak.statusCode, 400)
  t.match(leak.json().detail, /password, securityToken/)
  t.same(leak.json().errors.map((e: { path: string }) => e.path), ['body/password', 'body/securityToken'])
  const partly = await admin('POST', `${ADMIN}/acme/validate`, { loginUrl: otherOrigin, password: 'candidate-pw' })
  t.equal(partly.statusCode, 400, 'the stored security token would still travel')
  t.same(partly.json().errors.map((e: { path: string }) => e.path), ['body/securityToken'])
  const otherUser = await admin('POST', `${ADMIN}/acme/validate`, { username: 'someone@else.example' })
  t.equal(otherUser.statusCode, 400, 'nor to another user')
  t.equal(received.length, 0, 'nothing reached the other host')

  const own = await admin('POST', `${ADMIN}/acme/validate`, { loginUrl: otherOrigin, password: 'candidate-pw', securityToken: 'candidate-token' })
  t.equal(own.statusCode, 200)
  t.equal(received.length, 1)
  t.notOk(received[0].includes(ACME.password) || received[0].includes(ACME.securityToken), 'only the candidate\'s own secrets went there')

  const audit = await app.inject({ url: '/v1/admin/audit?connection=acme', headers: bearer(principals.adminKey) })
  const targets = audit.json().events.filter((e: { action: string }) => e.action === 'connection.validate' || e.action === 'connection.create').map((e: { target?: string }) => e.target)
  t.ok(targets.includes(otherOrigin), 'the validation against the other host names it')
  t.ok(targets.includes(new URL(sim.loginUrl).origin), 'the create names the login host')
  t.ok(targets.every((x: string | undefined) => typeof x === 'string'), 'every admin-caused login names its target')
})

t.test('the login budget: LOGIN_RATE_EXCEEDED holds the user\'s logins for the hour, with the time in the answer', async (t) => {
  const { sim, store, session, app, principals } = await setup(t)
  await store.write('acme', acmeDefinition(sim, 'jwt_bearer'), 0)
  await store.write('acme-cc', acmeDefinition(sim, 'jwt_bearer', { apiVersion: '63.0' }), 0)
  sim.org('acme').loginRatePerHour = 1
  t.equal((await session()).statusCode, 200)
  const refused = await app.inject({ method: 'POST', url: '/v1/connections/acme-cc/session', headers: bearer(principals.billingKey) })
  t.equal(refused.statusCode, 429, 'Salesforce answered LOGIN_RATE_EXCEEDED')
  t.match(refused.json(), { type: 'urn:sf-broker:problem:login_budget_exhausted', classification: 'login_rate_exceeded' })
  const attempts = sim.stats('acme').attempts
  const held = await app.inject({ method: 'POST', url: '/v1/connections/acme-cc/session', headers: bearer(principals.billingKey) })
  t.equal(held.statusCode, 429)
  t.match(held.json(), { type: 'urn:sf-broker:problem:login_budget_exhausted', classification: 'login_rate_exceeded' })
  t.ok(Date.parse(held.json().safeAt) > Date.now() + 3_500_000, 'held until the hour has passed')
  t.ok(Number(held.headers['retry-after']) > 3500)
  t.equal(sim.stats('acme').attempts, attempts, 'no login while held')
  // the cached session of the first connection still serves
  t.equal((await session()).statusCode, 200)
})

t.test('the login budget: above 80 % only misses and admin actions log in; /metrics shows used / limit', async (t) => {
  const { sim, store, app, admin, principals } = await setup(t, { SALESFORCE_LOGINS_PER_HOUR: '5' })
  const names = ['a1', 'a2', 'a3', 'a4']
  for (const name of names) await store.write(name, acmeDefinition(sim, 'jwt_bearer'), 0)
  // four validations of the stored secrets spend 4 of the user's 5 logins (80 %)
  for (const name of names) t.equal((await admin('POST', `${ADMIN}/${name}/validate`)).json().ok, true)
  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /sfb_salesforce_logins_used\{connection="a4"\} 4/)
  t.match(metrics.body, /sfb_salesforce_logins_limit 5/)
  const health = await app.inject({ url: '/health/salesforce?connection=a1', headers: bearer(principals.adminKey) })
  t.match(health.json().connections[0], { loginBudget: { used: 4, limit: 5 }, loginGuard: { failures: 0, lockoutThreshold: 3 } })
  const publicView = await app.inject({ url: '/health/salesforce?connection=a1' })
  t.notOk('loginBudget' in publicView.json().connections[0], 'the budget is admin detail')

  // a forced health check is not essential: refused above 80 %, and says why
  const forced = await app.inject({ method: 'POST', url: '/health/salesforce/a1/check', headers: bearer(principals.adminKey) })
  t.equal(forced.statusCode, 200)
  t.match(forced.json(), { checkKind: 'none', classification: 'login_budget_exhausted' }, 'the broker\'s own budget, not Salesforce\'s LOGIN_RATE_EXCEEDED')
  t.equal(sim.stats('acme').attempts, 4)

  // an admin action may spend the last login; then nothing may
  t.equal((await admin('POST', `${ADMIN}/a1/validate`, { apiVersion: '63.0' })).statusCode, 200)
  t.equal(sim.stats('acme').attempts, 5)
  const spent = await admin('POST', `${ADMIN}/a2/validate`, { apiVersion: '63.0' })
  t.equal(spent.statusCode, 429)
  t.match(spent.json(), { type: 'urn:sf-broker:problem:login_budget_exhausted', loginsUsed: 5, loginsLimit: 5 })
  t.equal(sim.stats('acme').attempts, 5)
  const audited = (await admin('GET', '/v1/admin/audit?connection=a2&limit=1')).json().events[0]
  t.match(audited, { action: 'connection.validate', outcome: 'error', classification: 'not_attempted:budget' }, 'a spent budget is audited as an error, not a rejected secret')
})
