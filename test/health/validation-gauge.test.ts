import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'

/** The validation gauge says what /health/salesforce says: a monitor and a dashboard never disagree. */

const NEAR_SUNSET = () => Date.parse('2027-01-01T12:00:00Z') // 50 days before the password flow's end

function gauge (metrics: string, connection: string): number | undefined {
  const line = metrics.split('\n').find(l => l.startsWith(`sfb_connection_validation_status{connection="${connection}"}`))
  return line === undefined ? undefined : Number(line.split(' ').pop())
}

t.test('a connection health calls warn (its flow is retired soon) is 0.75 in sfb_connection_validation_status, not 1', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('pw', acmeDefinition(sim, 'oauth_password'), 0)
  await store.write('cc', acmeDefinition(sim, 'client_credentials'), 0)
  const principals = testPrincipals(['pw', 'cc'])
  const { app } = await buildTestApp(t, { secretStore: store, principals, overrides: { now: NEAR_SUNSET } })
  const admin = bearer(principals.adminKey)
  for (const name of ['pw', 'cc']) t.equal((await app.inject({ method: 'POST', url: `/health/salesforce/${name}/check`, headers: admin })).statusCode, 200)

  const health = (await app.inject({ url: '/health/salesforce', headers: admin })).json()
  const status = (name: string) => health.connections.find((c: { connection: string }) => c.connection === name).status
  t.equal(status('pw'), 'warn', 'health: the login works, the flow ends in 50 days')
  t.equal(status('cc'), 'ok')
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.equal(gauge(metrics, 'pw'), 0.75, 'the gauge says warn too')
  t.equal(gauge(metrics, 'cc'), 1)
})
