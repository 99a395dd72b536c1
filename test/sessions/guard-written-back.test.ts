import t from 'tap'
import { acmeDefinition, bearer } from '../helper.ts'
import { soapFleetLockingAtThree } from '../support/guard-fleet.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { loginBudgetWindow, loginGuardDoc } from '../../src/shared-state/state-names.ts'
import { loginIdentity } from '../../src/sessions/login-identity.ts'
import { until } from '../support/redis-topologies.ts'

// A failed password login whose guard write could not reach Redis (Redis went away while Salesforce
// was judging the login) is kept in that replica's memory, and written back to Redis as soon as the
// replica reaches it again: the other replicas then know it before they send a password.
t.test('a failure counted while Redis was unreachable is written back when it answers again: no other replica sends one more', async (t) => {
  const { sim, redis, principals, replica, user } = await soapFleetLockingAtThree(t)
  const a = await replica()
  const b = await replica()
  const session = (app: typeof a) => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })

  // one failure, counted fleet-wide: an admin's wrong candidate
  const candidate = await b.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password: 'typo' } })
  t.equal(candidate.json().ok, false)
  t.equal(user.failedLogins, 1)

  // the password changes in Salesforce; replica A logs in with the stored one, and Redis dies while Salesforce judges it
  user.password = 'changed-in-salesforce'
  sim.setLatency(1_500)
  const fromA = session(a)
  // the login is on its way once the gate spent the budget for it (right before it sends)
  const window = new RedisKeys('sfbtest:').window(loginBudgetWindow(loginIdentity(acmeDefinition(sim, 'soap'))))
  const inspect = redis.client()
  t.teardown(() => inspect.quit())
  await until('A is sending its login (the candidate was the first)', async () => await inspect.zcard(window) === 2)
  await redis.stop()
  const answerA = await fromA
  t.equal(answerA.json().code, 'salesforce_login_failed', 'A counted the second failure (in its memory)')
  t.equal(answerA.json().failures, 2)
  t.equal(user.failedLogins, 2)
  sim.setLatency(0)

  // Redis is back (a restart, empty): replica A writes back the count it kept
  await redis.start()
  const guardKey = new RedisKeys('sfbtest:').doc(loginGuardDoc(loginIdentity(acmeDefinition(sim, 'soap'))))
  await until('A wrote its count back to Redis', async () => {
    const doc = await redis.client().get(guardKey)
    return doc !== null && (JSON.parse(doc) as { failures: number[] }).failures.length === 2
  })
  // B asks once it reaches Redis too (until then it refuses password logins: login_guard_unavailable)
  await until('B reaches Redis again', async () => (await b.inject({ url: '/health/ready' })).statusCode === 200)
  const fromB = await session(b)
  t.equal(fromB.statusCode, 429, 'B sends no password: one more could lock the user')
  t.equal(fromB.json().code, 'login_guarded')
  t.equal(user.failedLogins, 2, 'Salesforce saw no third failed login')
  t.equal(user.lockedUntil, 0, 'the integration user is not locked')
})
