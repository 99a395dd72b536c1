import t from 'tap'
import { ACME, acmeDefinition, startSim, tempFileStore } from '../helper.ts'
import { buildHealthApp, eventually, health, INTERVAL_MS, nextRound, only, roundClock, sharedRedis, throughSlots } from './health-helper.ts'

const freshRedis = sharedRedis(t)
/** FULL_VALIDATION_INTERVAL_SECONDS of buildHealthApp: a login at least this often */
const FULL_MS = 2000

/*
 * The scheduler, the health checks and the login gate's circuit all run on a ManualClock: rounds
 * happen when the test moves time, so "within one full interval" is counted in rounds, not in
 * wall time a loaded machine stretches.
 */

t.test('a password changed at Salesforce turns the connection failing within one full interval, with one failed login, and no more while the circuit is open', async (t) => {
  const sim = await startSim(t)
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'oauth_password'), 0)
  const clock = roundClock()
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })

  await throughSlots(clock) // the first round: acme was never checked
  const healthy = await eventually(() => health(url, 'acme'), a => only(a).status === 'ok')
  t.equal(healthy.status, 200)
  t.equal(only(healthy).classification, 'ok')
  t.ok(only(healthy).sessionValidUntil, 'the validation login serves callers: a cached session')
  t.equal(only(healthy).circuit.state, 'closed')

  const user = sim.org('acme').users.get(ACME.username)
  if (!user) throw new Error('no user')
  user.password = 'S0meone-Changed-It'
  sim.resetStats()
  const changedAt = clock.now()

  let failing = await nextRound(clock, url, 'acme')
  for (let round = 1; only(failing).status !== 'failing' && round < 5; round++) failing = await nextRound(clock, url, 'acme')
  const row = only(failing)
  t.equal(failing.status, 503)
  t.equal(row.status, 'failing')
  t.equal(row.classification, 'invalid_credentials')
  t.match(row.hint, /password|security token/i)
  t.ok(clock.now() - changedAt <= FULL_MS + INTERVAL_MS, `within one full interval plus a round (${clock.now() - changedAt} ms)`)
  t.equal(sim.stats('acme').failures, 1, 'exactly one failed login at Salesforce')
  t.equal(row.circuit.state, 'open')
  t.ok(row.consecutiveFailures >= 1)

  // several intervals later (each past a full interval): reported failing every round, no login made
  for (let round = 0; round < 3; round++) {
    const later = only(await nextRound(clock, url, 'acme'))
    t.equal(later.status, 'failing')
    t.equal(later.checkKind, 'none', 'no call made while logins are paused')
    t.ok(clock.now() - Date.parse(later.lastCheckedAt) < INTERVAL_MS, 'checked in this round')
  }
  t.equal(sim.stats('acme').failures, 1, 'no further failed login while the circuit is open')
  t.notOk(user.lockedUntil, 'the integration user was never locked out')
})

t.test('a security token reset is detected', async (t) => {
  const sim = await startSim(t)
  const redis = await freshRedis()
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'soap'), 0)
  const clock = roundClock()
  const { url } = await buildHealthApp(t, { secretStore: store, redisUrl: redis.url, overrides: { clock } })
  await throughSlots(clock)
  await eventually(() => health(url, 'acme'), a => only(a).status === 'ok')

  sim.resetSecurityToken('acme', ACME.username)
  const changedAt = clock.now()
  let failing = await nextRound(clock, url, 'acme')
  for (let round = 1; only(failing).status !== 'failing' && round < 5; round++) failing = await nextRound(clock, url, 'acme')
  t.ok(clock.now() - changedAt <= FULL_MS + INTERVAL_MS, `within one full interval plus a round (${clock.now() - changedAt} ms)`)
  t.equal(failing.status, 503)
  t.equal(only(failing).classification, 'invalid_credentials')
  t.match(only(failing).hint, /security token/i)
  t.equal(sim.stats('acme').failures, 1)
})
