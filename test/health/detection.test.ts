import t from 'tap'
import { ACME, acmeDefinition, startSim, tempFileStore } from '../helper.ts'
import { buildHealthApp, eventually, health, only, sharedRedis, sleep } from './health-helper.ts'

const freshRedis = sharedRedis(t)

t.test('a password changed at Salesforce turns the connection failing within one full interval, with one failed login, and no more while the circuit is open', async (t) => {
  const sim = await startSim(t)
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url })

  const healthy = await eventually(() => health(url, 'acme'), a => only(a).status === 'ok')
  t.equal(healthy.status, 200)
  t.equal(only(healthy).classification, 'ok')
  t.ok(only(healthy).sessionValidUntil, 'the validation login serves callers: a cached session')
  t.equal(only(healthy).circuit.state, 'closed')

  const user = sim.org('acme').users.get(ACME.username)
  if (!user) throw new Error('no user')
  user.password = 'S0meone-Changed-It'
  sim.resetStats()
  const changedAt = Date.now()

  const failing = await eventually(() => health(url, 'acme'), a => only(a).status === 'failing', 6000)
  const row = only(failing)
  t.equal(failing.status, 503)
  t.equal(row.status, 'failing')
  t.equal(row.classification, 'invalid_credentials')
  t.match(row.hint, /password|security token/i)
  t.ok(Date.now() - changedAt < 2000 + 1000 + 2000, 'within one full interval (plus a round and some slack)')
  t.equal(sim.stats('acme').failures, 1, 'exactly one failed login at Salesforce')
  t.equal(row.circuit.state, 'open')
  t.ok(row.consecutiveFailures >= 1)

  // several intervals later: reported failing every round, no login made
  await sleep(2500)
  const later = only(await health(url, 'acme'))
  t.equal(later.status, 'failing')
  t.equal(later.checkKind, 'none', 'no call made while logins are paused')
  t.ok(Date.now() - Date.parse(later.lastCheckedAt) < 2500, 'still checked every interval')
  t.equal(sim.stats('acme').failures, 1, 'no further failed login while the circuit is open')
  t.notOk(user.lockedUntil, 'the integration user was never locked out')
})

t.test('a security token reset is detected', async (t) => {
  const sim = await startSim(t)
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url })
  await eventually(() => health(url, 'acme'), a => only(a).status === 'ok')

  sim.resetSecurityToken('acme', ACME.username)
  const failing = await eventually(() => health(url, 'acme'), a => only(a).status === 'failing', 6000)
  t.equal(failing.status, 503)
  t.equal(only(failing).classification, 'invalid_credentials')
  t.match(only(failing).hint, /security token/i)
  t.equal(sim.stats('acme').failures, 1)
})
