import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { DEMO_ADMIN_KEY, DEMO_APP, DEMO_CALLER_KEY, DEMO_USER } from '../scripts/demo.ts'
import { ALIVE_TRUSTED_MS } from '../src/sessions/rejection-check.ts'
import { untilPrinted } from './support/child-output.ts'
import { demoAddresses, demoCalendar } from './support/demo-banner.ts'
import { outsideTap } from './support/outside-tap.ts'

/**
 * Driven as an admin and a service would: the real demo process (`npm run demo`), over HTTP,
 * with the outcome read at the simulator's control API. The demo org locks its user after 3 failures.
 */
const DEMO = fileURLToPath(new URL('../scripts/demo.ts', import.meta.url))

/**
 * The demo process, started with `env` over its defaults; killed after the test. It listens on a port
 * the kernel picks (PORT=0), which its banner prints: a port chosen here first could be taken by then.
 * Outside tap's hooks (support/outside-tap.ts): the demo's own lines are covered by server.test.ts,
 * and what it serves by the in-process tests.
 */
async function startDemo (t: Test, env: Record<string, string> = {}): Promise<{ child: ChildProcess, sim: string, base: string }> {
  const child = spawn(...outsideTap(process.execPath, [DEMO]), {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'warn', SCHEDULER_ENABLED: 'false', ...demoCalendar(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const addresses = demoAddresses(await untilPrinted(child, /Health: http:/))
  // what the demo printed after its banner, and whether it exited: said when a test fails (a stress
  // run once got ECONNRESET on the first request, and nothing told whether the demo had died)
  let after = ''
  const keep = (d: Buffer | string) => { after = (after + String(d)).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  t.teardown(() => {
    if (!t.passing()) t.comment(`the demo ${child.exitCode === null ? 'was still running' : `had exited (${child.exitCode})`}; its output after the banner: ${after || '(none)'}`)
  })
  return { child, ...addresses }
}

t.test('through the demo: false rejectedToken claims cost no login, a dead session heals with one; wrong candidates never lock the user out', async (t) => {
  const { child, sim, base } = await startDemo(t)
  const admin = { authorization: `Bearer ${DEMO_ADMIN_KEY}` }
  const caller = { authorization: `Bearer ${DEMO_CALLER_KEY}` }
  const call = async (method: string, path: string, headers: Record<string, string>, body?: object) => {
    const res = body
      ? await fetch(`${base}${path}`, { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      : await fetch(`${base}${path}`, { method, headers })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const simUser = async () => await (await fetch(`${sim}/_sim/orgs/demo/users/${DEMO_USER.username}`)).json() as { failedLogins: number, locked: boolean }
  const simStats = async () => await (await fetch(`${sim}/_sim/stats?org=demo`)).json() as { attempts: number, failures: number }
  const credentials = '/v1/admin/connections/demo-password/credentials'

  // a service gets a session
  const first = await call('POST', '/v1/connections/demo-password/session', caller)
  t.equal(first.status, 200)
  const live = first.body.accessToken as string

  // twenty false claims that the live token is dead
  const before = (await simStats()).attempts
  const claims = []
  for (let i = 0; i < 20; i++) claims.push(await call('POST', '/v1/connections/demo-password/session', caller, { rejectedToken: live }))
  t.same([...new Set(claims.map(c => c.status))], [200])
  const spent = (await simStats()).attempts - before
  t.ok(spent <= 2, `20 false rejectedToken claims cost ${spent} logins (at most 2)`)

  // the session really expires at Salesforce: healed with exactly one login
  t.ok((await fetch(`${sim}/_sim/orgs/demo/sessions/expire`, { method: 'POST' })).ok)
  await new Promise(resolve => setTimeout(resolve, ALIVE_TRUSTED_MS + 200)) // past the time Salesforce's "alive" is trusted
  const beforeHeal = (await simStats()).attempts
  const healed = await Promise.all(Array.from({ length: 5 }, () => call('POST', '/v1/connections/demo-password/session', caller, { rejectedToken: live })))
  t.same([...new Set(healed.map(c => c.status))], [200])
  t.equal(new Set(healed.map(c => c.body.accessToken)).size, 1, 'one new session for every caller')
  t.not(healed[0].body.accessToken, live)
  t.equal((await simStats()).attempts - beforeHeal, 1, 'exactly one login heals a session Salesforce really rejected')

  // one typo, then the right password: the rotation goes through and Salesforce's count starts over
  t.equal((await call('PATCH', credentials, admin, { password: 'demo-pasword-1' })).status, 422, 'the typo is refused, nothing stored')
  t.equal((await call('PATCH', credentials, admin, { password: DEMO_USER.password, securityToken: DEMO_USER.securityToken })).status, 200)
  t.equal((await simUser()).failedLogins, 0)

  // ten more wrong candidates: six rotations and four validations
  const statuses = []
  for (let i = 0; i < 6; i++) statuses.push((await call('PATCH', credentials, admin, { password: `wrong-${i}` })).status)
  for (let i = 0; i < 4; i++) statuses.push((await call('POST', '/v1/admin/connections/demo-password/validate', admin, { password: `wrong-v${i}` })).status)
  t.same(statuses.slice(0, 2), [422, 422], 'two reach Salesforce')
  t.same([...new Set(statuses.slice(2))], [429], 'then the guard answers login_guarded')
  const user = await simUser()
  t.ok(user.failedLogins <= 2, `the simulated user has ${user.failedLogins} failed logins (at most 2)`)
  t.equal(user.locked, false, 'the user is not locked')

  // services keep the session the last good rotation adopted, and nothing more reached Salesforce
  t.equal((await call('POST', '/v1/connections/demo-password/session', caller)).status, 200)
  t.equal((await simUser()).failedLogins, user.failedLogins)

  child.kill('SIGTERM')
  await once(child, 'exit')
})

t.test('through the demo: a password changed in Salesforce under steady service traffic never locks the user; the admin clears it', async (t) => {
  // one-second cool-downs: each second of this test stands for one default 5-minute pause between
  // probe logins, so a dozen seconds of traffic probe as often as an hour with the defaults
  const { child, sim, base } = await startDemo(t, { CIRCUIT_COOLDOWN_SECONDS: '1', CIRCUIT_MAX_COOLDOWN_SECONDS: '1', REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' })
  const call = async (method: string, path: string, key: string, body?: object) => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const simUser = async () => await (await fetch(`${sim}/_sim/orgs/demo/users/${DEMO_USER.username}`)).json() as { failedLogins: number, locked: boolean }
  const session = (body?: object) => call('POST', '/v1/connections/demo-password/session', DEMO_CALLER_KEY, body)

  let token = (await session()).body.accessToken as string
  // in Salesforce, someone resets the integration user's password (and so its security token)
  const reset = await (await fetch(`${sim}/_sim/orgs/demo/users/${DEMO_USER.username}/reset-password`, { method: 'POST' })).json() as { password: string, securityToken: string }
  t.ok((await fetch(`${sim}/_sim/orgs/demo/sessions/expire`, { method: 'POST' })).ok)
  // a service keeps asking, reporting its dead session as the SDK does, for 12 cool-downs
  const codes = new Map<unknown, number>()
  const until = Date.now() + 12_000
  while (Date.now() < until) {
    const r = await session({ rejectedToken: token })
    codes.set(r.body.code, (codes.get(r.body.code) ?? 0) + 1)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const user = await simUser()
  t.equal(user.failedLogins, 2, `2 failed logins at Salesforce after ${[...codes.values()].reduce((a, b) => a + b)} requests (${JSON.stringify(Object.fromEntries(codes))})`)
  t.equal(user.locked, false, 'the user is not locked')
  t.ok((codes.get('login_guarded') ?? 0) > 0, 'the guard holds the logins back')

  // the admin: a password reset alone leaves Salesforce's count at 2, so one successful login as the
  // user (the admin in a browser; here the OAuth endpoint) sets it to zero; then say so, store the secret
  const token0 = await fetch(`${sim}/services/oauth2/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', client_id: DEMO_APP.clientId, client_secret: DEMO_APP.clientSecret, username: DEMO_USER.username, password: reset.password + reset.securityToken }) })
  t.equal(token0.status, 200, 'the admin logs in once as the user')
  t.equal((await simUser()).failedLogins, 0)
  t.equal((await call('POST', '/health/salesforce/demo-password/check', DEMO_ADMIN_KEY, { failedLoginsReset: true })).status, 200)
  t.equal((await call('PATCH', '/v1/admin/connections/demo-password/credentials', DEMO_ADMIN_KEY, { password: reset.password, securityToken: reset.securityToken })).status, 200)
  const served = await session()
  t.equal(served.status, 200, 'services are served again')
  token = served.body.accessToken as string
  t.type(token, 'string')
  t.same(await simUser(), { ...(await simUser()), failedLogins: 0, locked: false })

  child.kill('SIGTERM')
  await once(child, 'exit')
})
