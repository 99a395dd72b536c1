import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { USER, getWithToken, http, passwordLogin, startAcme } from './fixtures.ts'

async function control (base: string, method: string, path: string, body?: unknown) {
  return http(`${base}/_sim/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

t.test('stats and reset over HTTP', async t => {
  const sim = await startAcme(t)
  await passwordLogin(sim.loginUrl)
  await passwordLogin(sim.loginUrl, 'bad')
  const stats = await control(sim.loginUrl, 'GET', 'stats?org=acme')
  t.equal(stats.status, 200)
  t.same(stats.json, sim.stats('acme'))
  t.equal(stats.json.failures, 1)
  t.same((await control(sim.loginUrl, 'POST', 'stats/reset')).json, { ok: true })
  t.equal((await control(sim.loginUrl, 'GET', 'stats')).json.attempts, 0)
})

t.test('sessions, tokens, users and org policies over HTTP', async t => {
  const sim = await startAcme(t)
  const limits = `${sim.myDomainUrl('acme')}/services/data/v62.0/limits`
  const access = (await passwordLogin(sim.loginUrl)).json.access_token
  t.same((await control(sim.loginUrl, 'POST', 'orgs/acme/sessions/expire')).json, { ok: true })
  t.equal((await getWithToken(limits, access)).status, 401)

  const reset = await control(sim.loginUrl, 'POST', `orgs/acme/users/${encodeURIComponent(USER.username)}/reset-token`)
  t.match(reset.json, { securityToken: /^[0-9A-Za-z]{25}$/ })
  t.equal((await passwordLogin(sim.loginUrl)).status, 400, 'the old token is dead')
  t.equal((await passwordLogin(sim.loginUrl, USER.password + reset.json.securityToken)).status, 200)

  const patched = await control(sim.loginUrl, 'PATCH', `orgs/acme/users/${encodeURIComponent(USER.username)}`, { password: 'N3w!', active: false, apiEnabled: false, passwordExpired: true })
  t.equal(patched.status, 200)
  t.match(patched.json, { username: USER.username, active: false, apiEnabled: false, passwordExpired: true })
  t.notOk('password' in patched.json || 'securityToken' in patched.json, 'answers never carry secrets')
  const user = sim.org('acme').users.get(USER.username)!
  t.equal(user.password, 'N3w!')
  await control(sim.loginUrl, 'PATCH', `orgs/acme/users/${encodeURIComponent(USER.username)}`, { locked: true })
  t.ok(user.lockedUntil > Date.now())
  await control(sim.loginUrl, 'PATCH', `orgs/acme/users/${encodeURIComponent(USER.username)}`, { locked: false })
  t.equal(user.lockedUntil, 0)

  const org = await control(sim.loginUrl, 'PATCH', 'orgs/acme', {
    flows: { soap: false }, lockout: { maxAttempts: 2 }, sessionTimeoutSeconds: 60, trustedIpRanges: ['10.0.0.0/8'], apiRequestLimit: 10, apiEnabled: false, loginRatePerHour: 9,
  })
  t.equal(org.status, 200)
  t.same(sim.org('acme').flows, { soap: false, oauthPassword: true, jwtBearer: true, clientCredentials: true })
  t.same(sim.org('acme').lockout, { maxAttempts: 2, durationSeconds: 900 })
  t.match(sim.org('acme'), { sessionTimeoutSeconds: 60, trustedIpRanges: ['10.0.0.0/8'], apiRequestLimit: 10, apiEnabled: false, loginRatePerHour: 9 })
  t.equal(org.json.myDomainUrl, sim.myDomainUrl('acme'))
  t.equal(org.json.oauthPasswordFlowRetiredAt, '9999-01-01T00:00:00.000Z', "the fixture's date")
  const moved = await control(sim.loginUrl, 'PATCH', 'orgs/acme', { oauthPasswordFlowRetiredAt: '2027-06-01T00:00:00Z' })
  t.equal(moved.json.oauthPasswordFlowRetiredAt, '2027-06-01T00:00:00.000Z')
  t.equal(sim.org('acme').oauthPasswordFlowRetiredAt, Date.UTC(2027, 5, 1))

  t.equal((await control(sim.loginUrl, 'PATCH', 'orgs/acme', { apiEnabled: 'yes' })).status, 400)
  t.equal((await control(sim.loginUrl, 'PATCH', 'orgs/nope', {})).status, 404)
  t.equal((await control(sim.loginUrl, 'PATCH', 'orgs/acme/users/nobody', {})).status, 404)
  t.equal((await control(sim.loginUrl, 'GET', 'whatever')).status, 404)
  t.equal((await http(`${sim.myDomainUrl('acme')}/_sim/stats`)).status, 404, 'the control API lives on the login listener only')
})

t.test('latency delays every login', async t => {
  const sim = await startAcme(t)
  t.same((await control(sim.loginUrl, 'POST', 'latency', { ms: 150 })).json, { ok: true, ms: 150 })
  const started = Date.now()
  await passwordLogin(sim.loginUrl)
  t.ok(Date.now() - started >= 140, 'the token endpoint waited')
  sim.setLatency(0)
})

t.test('setDown resets every connection until set up again', async t => {
  const sim = await startAcme(t)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200)
  sim.setDown(true)
  await t.rejects(passwordLogin(sim.loginUrl), { message: 'fetch failed' })
  await t.rejects(http(`${sim.myDomainUrl('acme')}/services/data`), { message: 'fetch failed' })
  sim.setDown(false)
  t.equal((await passwordLogin(sim.loginUrl)).status, 200)
})

t.test('main.ts runs the simulator as a process and stops on SIGTERM', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const config = join(dir, 'orgs.json')
  await writeFile(config, JSON.stringify({ orgs: [{ key: 'initech', users: [{ ...USER }], connectedApps: [{ clientId: 'ck', clientSecret: 'cs' }] }] }))
  const child = spawn(process.execPath, ['packages/simulator/src/main.ts', config], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const [line] = await once(createInterface({ input: child.stdout }), 'line') as [string]
  const ready = JSON.parse(line) as { loginUrl: string, orgs: Record<string, string> }
  t.match(ready, { loginUrl: /^http:\/\/127\.0\.0\.1:\d+$/, orgs: { initech: /^http:\/\/127\.0\.0\.1:\d+$/ } })
  const login = await passwordLogin(ready.loginUrl, undefined, undefined, { clientId: 'ck', clientSecret: 'cs' })
  t.equal(login.json.instance_url, ready.orgs.initech)
  t.equal((await control(ready.loginUrl, 'GET', 'stats')).json.successes, 1)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
})

t.test('reset-password: a password change resets the security token, as in Salesforce', async t => {
  const sim = await startAcme(t)
  const path = `orgs/acme/users/${encodeURIComponent(USER.username)}/reset-password`
  const chosen = await control(sim.loginUrl, 'POST', path, { password: 'Chosen-Passw0rd' })
  t.equal(chosen.status, 200)
  t.match(chosen.json, { password: 'Chosen-Passw0rd', securityToken: /^[0-9A-Za-z]{25}$/ })
  t.equal((await passwordLogin(sim.loginUrl, 'Chosen-Passw0rd' + USER.securityToken)).status, 400, 'the old token does not go with the new password')
  const user = await control(sim.loginUrl, 'GET', `orgs/acme/users/${encodeURIComponent(USER.username)}`)
  t.match(user.json, { username: USER.username, failedLogins: 1, locked: false, passwordExpired: false }, 'the user as an admin sees it: the refused login counted')
  t.equal((await passwordLogin(sim.loginUrl, 'Chosen-Passw0rd' + chosen.json.securityToken)).status, 200)

  const generated = await control(sim.loginUrl, 'POST', path)
  t.match(generated.json, { password: /^Sim-/, securityToken: /^[0-9A-Za-z]{25}$/ })
  t.not(generated.json.securityToken, chosen.json.securityToken)
  t.equal((await passwordLogin(sim.loginUrl, generated.json.password + generated.json.securityToken)).status, 200)
  t.equal((await control(sim.loginUrl, 'POST', 'orgs/acme/users/nobody@acme.example/reset-password')).status, 404)
})
