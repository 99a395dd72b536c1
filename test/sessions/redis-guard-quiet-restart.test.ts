import t from 'tap'
import { acmeDefinition, bearer } from '../helper.ts'
import { soapFleetLockingAtThree } from '../support/guard-fleet.ts'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import { loginGuardDoc } from '../../src/shared-state/state-names.ts'
import { loginIdentity } from '../../src/sessions/login-identity.ts'
import { until } from '../support/redis-topologies.ts'

// Redis restarts empty (no persistence) while a replica that holds the guard's count sends it no
// command: nothing it asked failed, yet its connection was lost and is back. The count it holds is
// written back all the same, so a replica that never heard it (started since) sends no password
// that would lock the user out.
t.test('Redis restarted empty while a replica was quiet: its count is written back, and a new replica sends no password', async (t) => {
  const { sim, redis, principals, replica, user } = await soapFleetLockingAtThree(t)
  const a = await replica()

  // two failures, counted by replica A: two admins' wrong candidates; one more would lock the user
  for (const password of ['typo-1', 'typo-2']) {
    const candidate = await a.inject({ method: 'POST', url: '/v1/admin/connections/acme/validate', headers: bearer(principals.adminKey), payload: { password } })
    t.equal(candidate.json().ok, false)
  }
  t.equal(user.failedLogins, 2)
  const guardKey = new RedisKeys('sfbtest:').doc(loginGuardDoc(loginIdentity(acmeDefinition(sim, 'soap'))))
  const inspect = redis.client()
  t.ok(await inspect.get(guardKey), 'the count is in Redis')

  // the password changes in Salesforce; Redis restarts empty while A is asked nothing
  user.password = 'changed-in-salesforce'
  await redis.stop()
  await redis.start()
  await until('A reaches Redis again', async () => (await a.inject({ url: '/health/ready' })).statusCode === 200)
  await until('A wrote its count back to Redis', async () => {
    const doc = await redis.client().get(guardKey)
    return doc !== null && (JSON.parse(doc) as { failures: number[] }).failures.length === 2
  }, 10_000)

  // a replica started since, which never heard the count
  const c = await replica()
  const fromC = await c.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  t.equal(fromC.statusCode, 429, 'C sends no password: one more could lock the user')
  t.equal(fromC.json().code, 'login_guarded')
  t.equal(user.failedLogins, 2, 'Salesforce saw no third failed login')
  t.equal(user.lockedUntil, 0, 'the integration user is not locked')
})
