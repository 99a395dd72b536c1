import t from 'tap'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'

/** What an admin reads after a rotation must say what to do next. */

async function setup (t: Parameters<typeof buildTestApp>[0]) {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const { app, principals } = await buildTestApp(t, { secretStore: store })
  const admin = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { sim, app, admin, principals }
}

t.test('a token-only rotation after a password reset: the answer names the fields sent and asks about the password', async (t) => {
  const { sim, admin } = await setup(t)
  // in Salesforce the password was reset, which also reset the token; the admin sends only the token
  sim.org('acme').users.get(ACME.username)!.password = 'Reset-by-Salesforce-1'
  const token = sim.resetSecurityToken('acme', ACME.username)
  const res = await admin('PATCH', '/v1/admin/connections/acme/credentials', { securityToken: token })
  t.equal(res.statusCode, 422)
  const problem = res.json()
  t.equal(problem.code, 'credentials_rejected')
  t.match(problem.detail, /This rotation changed securityToken only\./)
  t.match(problem.hint, /^Did the password change too\? .*a password reset also resets the security token.*send both password and securityToken/i)
  t.notMatch(problem.detail, /\.;/, 'no "….; nothing was stored" seams')
  t.match(problem.detail, /Nothing was stored\.$/)
  t.same(problem.changedFields, ['securityToken'])
})

t.test('a password-only rotation is reminded of the token', async (t) => {
  const { admin } = await setup(t)
  const res = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: 'Not-the-password' })
  t.equal(res.statusCode, 422)
  t.match(res.json().hint, /^A password change resets the security token: send the new securityToken with the password/)
})

t.test('a locked-out user reads as sentences, not "locked out.; nothing was stored"', async (t) => {
  const { sim, admin } = await setup(t)
  const user = sim.org('acme').users.get(ACME.username)!
  user.lockedUntil = Date.now() + 600_000
  const res = await admin('POST', '/v1/admin/connections/acme/rollback', { version: 1 })
  t.equal(res.statusCode, 400, 'version 1 is current: refused before any login')
  const put = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: ACME.password, securityToken: ACME.securityToken })
  t.equal(put.statusCode, 422)
  t.notMatch(put.json().detail, /\.;|\.\./)
  t.match(put.json().detail, /Nothing was stored\.$/)
})

t.test('after a failing check, a successful rotation or rollback resets the health counters and sets lastSuccessAt', async (t) => {
  const { sim, admin } = await setup(t)
  sim.org('acme').users.get(ACME.username)!.password = 'Changed-in-Salesforce-1'
  const token = sim.resetSecurityToken('acme', ACME.username)
  const failed = await admin('POST', '/health/salesforce/acme/check')
  t.equal(failed.statusCode, 200)
  t.equal(failed.json().status, 'failing')
  t.equal(failed.json().consecutiveFailures, 1)
  t.notOk(failed.json().lastSuccessAt)

  const rotated = await admin('PATCH', '/v1/admin/connections/acme/credentials', { password: 'Changed-in-Salesforce-1', securityToken: token })
  t.equal(rotated.statusCode, 200, rotated.body)
  const health = (await admin('GET', '/health/salesforce?connection=acme')).json().connections[0]
  t.equal(health.status, 'ok', 'the rotation\'s login was a success')
  t.equal(health.consecutiveFailures, 0)
  t.ok(health.lastSuccessAt, 'lastSuccessAt set')
  t.equal(health.secretVersion, 2)

  // back to version 1 once Salesforce has the old password again (the rollback is validated like a rotation)
  sim.org('acme').users.get(ACME.username)!.password = ACME.password
  sim.org('acme').users.get(ACME.username)!.securityToken = ACME.securityToken
  const back = await admin('POST', '/v1/admin/connections/acme/rollback', { version: 1 })
  t.equal(back.statusCode, 200, back.body)
  const after = (await admin('GET', '/health/salesforce?connection=acme')).json().connections[0]
  t.equal(after.secretVersion, 3)
  t.equal(after.consecutiveFailures, 0)
  t.equal(after.status, 'ok')

  const events = (await admin('GET', '/v1/admin/audit?connection=acme')).json().events
  const rollback = events.find((e: { action: string }) => e.action === 'connection.rollback')
  t.match(rollback, { outcome: 'success', version: 3, fromVersion: 2, targetVersion: 1 }, 'the rollback target has its own field')
  t.notOk(rollback.fields, 'nothing stuffed into fields')
})

t.test('a caller\'s successful login after a transient failure resets the counters too', async (t) => {
  const { sim, app, admin, principals } = await setup(t)
  sim.setDown(true)
  const down = await admin('POST', '/health/salesforce/acme/check')
  t.equal(down.json().consecutiveFailures, 1)
  t.not(down.json().status, 'ok')
  sim.setDown(false)
  const session = await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(session.statusCode, 200, session.body)
  const health = (await admin('GET', '/health/salesforce?connection=acme')).json().connections[0]
  t.equal(health.consecutiveFailures, 0)
  t.equal(health.status, 'ok')
  t.ok(health.lastSuccessAt)
})
