import t from 'tap'
import { acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'

// A password connection and a client-credentials app whose Run-As user is the same Salesforce user
// spend one hourly budget. Their logins take different leases (their login identities differ), so
// the last login of the hour is taken atomically, not read and then added.
for (const where of ['one replica, process memory', 'two replicas, Redis'] as const) {
  t.test(`one Salesforce user, two login identities: together they never spend more than the hourly budget (${where})`, async (t) => {
    const sim = await startSim(t, [acmeOrg({ loginRatePerHour: 4 })])
    const store = await tempFileStore(t)
    const principals = testPrincipals(['*'], 100_000)
    const redis = where === 'two replicas, Redis' ? await startRedis() : undefined
    if (redis) t.teardown(() => redis.close())
    const env = { SALESFORCE_LOGINS_PER_HOUR: '4', REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' }
    const { app } = await buildTestApp(t, { secretStore: store, principals, env, redisUrl: redis?.url })
    const other = redis ? (await buildTestApp(t, { secretStore: store, principals, env, redisUrl: redis.url })).app : app
    await store.write('acme-pw', acmeDefinition(sim, 'soap'), 0)
    await store.write('acme-cc', acmeDefinition(sim, 'client_credentials'), 0)
    const session = (name: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(principals.billingKey) })
    const validate = (name: string, on = app) => on.inject({ method: 'POST', url: `/v1/admin/connections/${name}/validate`, headers: bearer(principals.adminKey) })

    // each identity learns it is the same Salesforce user: 2 logins of the user's 4
    t.equal((await session('acme-pw')).statusCode, 200)
    t.equal((await session('acme-cc')).statusCode, 200)
    t.equal((await validate('acme-pw')).json().ok, true, 'a third login')
    t.equal(sim.stats('acme').attempts, 3)

    // one login is left in the hour; two admins validate both connections at once
    const answers = await Promise.all([validate('acme-pw'), validate('acme-cc', other)])
    t.same(answers.map(a => a.statusCode).sort(), [200, 429], 'one validation logs in, the other is refused by the budget')
    t.ok(sim.stats('acme').attempts <= 4, `at most SALESFORCE_LOGINS_PER_HOUR logins reached Salesforce (${sim.stats('acme').attempts})`)
    t.notOk(answers.some(a => a.json().classification === 'login_rate_exceeded'), 'Salesforce never answered LOGIN_RATE_EXCEEDED')
  })
}
