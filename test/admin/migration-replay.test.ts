import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'

const MIGRATION = '/v1/admin/connections/acme/migration'

/** One redis-server for the file; each test's replicas keep their keys under a prefix of their own. */
const redis = startRedis()
t.teardown(async () => { await (await redis).close() })
let tests = 0

/** Two replicas sharing Redis and one file store. */
async function twoReplicas (t: Teardown) {
  const { url } = await redis
  const env = { REDIS_KEY_PREFIX: `sfbtest${++tests}:` }
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) apps.push((await buildTestApp(t, { redisUrl: url, secretStore: store, principals, env })).app)
  const admin = (i: number, method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, payload?: object) =>
    apps[i].inject({ method, url, payload, headers: bearer(principals.adminKey) })
  return { admin }
}

t.test('a validation stands for the pending definition it proved, not for the next one started after an abandon', async (t) => {
  const sim = await startSim(t)
  const { admin } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  const good = { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret }
  t.equal((await admin(0, 'POST', MIGRATION, good)).statusCode, 201)
  t.equal((await admin(1, 'POST', `${MIGRATION}/validate`)).json().classification, 'ok')
  t.equal((await admin(1, 'DELETE', MIGRATION)).statusCode, 204)

  // the same pending version number again, with a consumer key Salesforce does not know
  const bad = await admin(0, 'POST', MIGRATION, { ...good, clientId: '3MVG9never.validated' })
  t.equal(bad.statusCode, 201)
  t.equal(bad.json().pendingVersion, 1)
  const complete = await admin(1, 'POST', `${MIGRATION}/complete`)
  t.equal(complete.statusCode, 409, 'the earlier validation does not carry over')
  t.match(complete.json().detail, /validate/)
  t.equal((await admin(0, 'GET', '/v1/admin/connections/acme')).json().flow, 'soap', 'the connection is untouched')
})

t.test('deleting a connection deletes its pending migration: a new connection of that name inherits nothing', async (t) => {
  const sim = await startSim(t)
  const { admin } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  t.equal((await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret })).statusCode, 201)
  t.equal((await admin(1, 'POST', `${MIGRATION}/validate`)).json().classification, 'ok')
  t.equal((await admin(1, 'DELETE', '/v1/admin/connections/acme')).statusCode, 204)

  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  t.equal((await admin(0, 'GET', MIGRATION)).statusCode, 404, 'no pending migration for the new connection')
  t.equal((await admin(1, 'POST', `${MIGRATION}/complete`)).statusCode, 404, 'nothing to complete')
  t.equal((await admin(1, 'GET', '/v1/admin/connections/acme')).json().flow, 'oauth_password')

  // and a migration the new connection starts needs its own validation
  t.equal((await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: '3MVG9other.app', clientSecret: ACME.clientSecret })).statusCode, 201)
  t.equal((await admin(1, 'POST', `${MIGRATION}/complete`)).statusCode, 409, 'the deleted connection\'s validation does not carry over')
})

t.test('abandon and complete at the same moment: exactly one of them happens', async (t) => {
  const sim = await startSim(t)
  const { admin } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  for (let round = 0; round < 2; round++) {
    t.equal((await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret })).statusCode, 201)
    t.equal((await admin(1, 'POST', `${MIGRATION}/validate`)).json().classification, 'ok')
    const [completed, abandoned] = await Promise.all([
      admin(round % 2, 'POST', `${MIGRATION}/complete`),
      admin((round + 1) % 2, 'DELETE', MIGRATION),
    ])
    const won = [completed.statusCode === 200, abandoned.statusCode === 204].filter(Boolean).length
    t.equal(won, 1, `one winner (complete ${completed.statusCode}, abandon ${abandoned.statusCode})`)
    const loser = completed.statusCode === 200 ? abandoned : completed
    t.ok([404, 409].includes(loser.statusCode), `the other is refused (${loser.statusCode})`)
    const flow = (await admin(0, 'GET', '/v1/admin/connections/acme')).json().flow
    t.equal(flow, completed.statusCode === 200 ? 'client_credentials' : 'soap', 'the connection shows the winner')
    t.equal((await admin(1, 'GET', MIGRATION)).statusCode, 404, 'nothing pending afterwards')
    if (flow !== 'soap') t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 200)
  }
})

t.test('migration audit records name the origin the pending definition logs in to', async (t) => {
  const sim = await startSim(t)
  const { admin } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  const target = new URL(sim.myDomainUrl('acme')).origin
  t.equal((await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret })).statusCode, 201)
  t.equal((await admin(1, 'POST', `${MIGRATION}/validate`)).json().classification, 'ok')
  t.equal((await admin(1, 'POST', `${MIGRATION}/complete`)).statusCode, 200)
  const events = (await admin(0, 'GET', '/v1/admin/audit?connection=acme')).json().events as Array<{ action: string, target?: string }>
  const migration = events.filter(e => e.action.startsWith('migration.'))
  t.same(migration.map(e => e.action).sort(), ['migration.complete', 'migration.start', 'migration.validate'])
  for (const e of migration) t.equal(e.target, target, `${e.action} names ${target}`)
})
