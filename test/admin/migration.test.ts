import t from 'tap'
import { X509Certificate } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { ACME, acmeDefinition, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'

const ECA = '3MVG9eca.external.client.app'
const MIGRATION = '/v1/admin/connections/acme/migration'

/** Two replicas sharing Redis and one file store, as in a small deployment. */
async function twoReplicas (t: Teardown) {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals })).app)
  const admin = (i: number, method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, payload?: object) =>
    apps[i].inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (i: number) => apps[i % 2].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  return { redis, store, apps, admin, session }
}

/** Callers asking both replicas for sessions without pause, until stopped: every status kept. */
function load (session: (i: number) => Promise<{ statusCode: number }>) {
  const statuses: number[] = []
  const run = { on: true }
  const workers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = w; run.on; i += 4) {
      statuses.push((await session(i)).statusCode)
      await new Promise(resolve => setImmediate(resolve))
    }
  })
  return {
    statuses,
    async stop () {
      run.on = false
      await Promise.all(workers)
      return statuses
    },
  }
}

/** What an admin does in Salesforce Setup, through the simulator's control API. */
async function setup (sim: Simulator, method: 'PUT' | 'DELETE', path: string, body?: object) {
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme${path}`, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  if (!res.ok) throw new Error(`simulator control API ${method} ${path}: ${res.status} ${await res.text()}`)
}

t.test('oauth_password → jwt_bearer with 2 replicas serving throughout: guided, validated, switched once, rolled back', async (t) => {
  const sim = await startSim(t)
  const { apps, admin, session } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  t.equal((await session(1)).statusCode, 200, 'the password connection serves')
  const traffic = load(session)

  // start: key and certificate made, nothing switched
  const started = await admin(0, 'POST', MIGRATION, { flow: 'jwt_bearer' })
  t.equal(started.statusCode, 201, started.body)
  const view = started.json()
  t.equal(view.to.flow, 'jwt_bearer')
  t.equal(view.from.flow, 'oauth_password')
  t.equal(view.certificate.keyCustody, 'store')
  t.same(view.to.secretsSet, ['privateKey'], 'the key is a secret field of the pending definition')
  t.notMatch(started.body, /PRIVATE KEY/, 'the private key never comes back')
  const cert = new X509Certificate(view.certificate.pem)
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000
  t.ok(days > 729 && days <= 730, `valid two years by default (${days.toFixed(1)} days)`)
  t.ok(cert.verify(cert.publicKey), 'self-signed')
  const checklist = view.checklist.join('\n')
  t.match(checklist, /External Client App/)
  t.ok(checklist.indexOf('External Client App') < checklist.indexOf('Connected App'), 'External Client Apps first')
  t.match(checklist, /Use digital signatures/)
  t.match(checklist, /Admin approved users are pre-authorized/)
  t.match(checklist, /api\)/)
  t.match(checklist, /profile .*permission set/)
  t.equal((await admin(1, 'GET', '/v1/admin/connections/acme')).json().flow, 'oauth_password', 'the connection is untouched')
  const pem = await admin(1, 'GET', `${MIGRATION}/certificate`)
  t.equal(pem.headers['content-type'], 'application/x-pem-file')
  t.equal(pem.body, view.certificate.pem, 'the other replica reads the same pending migration')
  t.equal((await admin(1, 'POST', MIGRATION, { flow: 'jwt_bearer' })).statusCode, 409, 'one pending migration at a time')
  const early = await admin(1, 'POST', `${MIGRATION}/complete`)
  t.equal(early.statusCode, 409, 'no switch before a successful validation')
  t.match(early.json().detail, /validate/)

  // validate: each Setup mistake answered with its classification and the next step
  const unknownApp = await admin(1, 'POST', `${MIGRATION}/validate`, { clientId: '3MVG9not.an.app' })
  t.equal(unknownApp.statusCode, 200)
  t.equal(unknownApp.json().classification, 'invalid_client')
  t.match(unknownApp.json().nextStep, /consumer key/)

  await setup(sim, 'PUT', `/apps/${ECA}`, { clientSecret: 'eca-secret-0123456789', permittedUsers: 'admin_approved' })
  const noCert = (await admin(0, 'POST', `${MIGRATION}/validate`, { clientId: ECA })).json()
  t.equal(noCert.migration.pendingVersion, 3, 'each change of the pending definition is a new version')
  t.equal(noCert.classification, 'invalid_assertion')
  t.match(noCert.nextStep, /Upload the certificate/)
  t.equal(noCert.migration.to.clientId, ECA, 'the consumer key is kept in the pending definition')

  await setup(sim, 'PUT', `/apps/${ECA}/certificate`, { certificatePem: view.certificate.pem })
  const notApproved = (await admin(1, 'POST', `${MIGRATION}/validate`)).json()
  t.equal(notApproved.classification, 'user_not_approved')
  t.match(notApproved.nextStep, /Pre-authorize/)

  await setup(sim, 'PUT', `/apps/${ECA}/preauthorized/${ACME.username}`)
  const ok = (await admin(0, 'POST', `${MIGRATION}/validate`)).json()
  t.equal(ok.classification, 'ok', JSON.stringify(ok))
  t.match(ok.nextStep, /complete/)
  t.equal((await admin(0, 'GET', '/v1/admin/connections/acme')).json().flow, 'oauth_password', 'validation switches nothing')
  // the switch follows the last validation: one that failed since the success (another consumer key) blocks it
  t.equal((await admin(1, 'POST', `${MIGRATION}/validate`, { clientId: '3MVG9not.an.app' })).json().classification, 'invalid_client')
  t.equal((await admin(0, 'POST', `${MIGRATION}/complete`)).statusCode, 409, 'not switched after a failed validation')
  t.equal((await admin(1, 'POST', `${MIGRATION}/validate`, { clientId: ECA })).json().classification, 'ok', 'JWT failures lock nobody out: validate again at once')

  // complete: the one switch, the one login after it
  const before = sim.stats('acme').attempts
  const changed = await admin(1, 'POST', `${MIGRATION}/complete`, undefined)
  t.equal(changed.statusCode, 200, changed.body)
  const done = changed
  t.equal(done.statusCode, 200, done.body)
  t.equal(done.json().connection.flow, 'jwt_bearer')
  t.equal(done.json().previousVersion, 1)
  const afterSwitch = await Promise.all(Array.from({ length: 50 }, (_, i) => session(i)))
  t.same([...new Set(afterSwitch.map(a => a.statusCode))], [200])
  const statuses = await traffic.stop()
  t.ok(statuses.length > 20, `load ran throughout (${statuses.length} requests)`)
  t.same([...new Set(statuses)], [200], 'zero failed session requests during start, validate and complete')
  t.equal(sim.stats('acme').attempts - before, 1, 'exactly one login after the switch, fleet-wide')
  t.equal(new Set(afterSwitch.map(a => a.json().accessToken)).size, 1, 'both replicas serve the new session')
  t.equal((await admin(0, 'GET', MIGRATION)).statusCode, 404, 'nothing pending any more')
  const meta = (await admin(0, 'GET', '/v1/admin/connections/acme')).json()
  t.same(meta.secretsSet, ['privateKey'])
  const audit = (await admin(0, 'GET', '/v1/admin/audit?connection=acme')).json().events.map((e: { action: string, outcome: string }) => `${e.action}:${e.outcome}`)
  t.ok(audit.includes('migration.start:success') && audit.includes('migration.complete:success'), audit.join())

  // rollback restores the password flow
  const back = await admin(0, 'POST', '/v1/admin/connections/acme/rollback', { version: 1 })
  t.equal(back.statusCode, 200, back.body)
  t.equal(back.json().flow, 'oauth_password')
  const again = await session(1)
  t.equal(again.statusCode, 200)
  t.equal(apps.length, 2)
})

t.test('client_credentials: My Domain required and checked, Run-As user in the checklist; abandon removes the pending entry', async (t) => {
  const sim = await startSim(t)
  const { admin, store } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)

  const generic = await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', loginUrl: 'https://login.salesforce.com' })
  t.equal(generic.statusCode, 400)
  t.match(generic.json().detail, /My Domain/)
  t.equal((await admin(0, 'GET', MIGRATION)).statusCode, 404, 'nothing stored')

  // the simulator's login host stands in for login.salesforce.com: it refuses the grant as Salesforce does
  const wrongHost = await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', clientId: ACME.clientId, clientSecret: ACME.clientSecret })
  t.equal(wrongHost.statusCode, 201)
  t.match(wrongHost.json().checklist.join('\n'), `Run As (execution) user to ${ACME.username}`, 'the Run-As user is named')
  t.notMatch(wrongHost.body, new RegExp(ACME.clientSecret), 'the consumer secret never comes back')
  t.same(wrongHost.json().to.secretsSet, ['clientSecret'])
  const refused = (await admin(1, 'POST', `${MIGRATION}/validate`)).json()
  t.equal(refused.classification, 'flow_not_enabled')
  t.match(refused.nextStep, /My Domain/)
  t.equal((await admin(1, 'DELETE', MIGRATION)).statusCode, 204)
  t.equal((await admin(1, 'GET', MIGRATION)).statusCode, 404)
  t.same(await store.list(), ['acme'], 'the pending entry lives beside the connections, not among them')

  const started = await admin(0, 'POST', MIGRATION, { flow: 'client_credentials', loginUrl: sim.myDomainUrl('acme'), clientId: ACME.clientId, clientSecret: ACME.clientSecret })
  t.equal(started.statusCode, 201)
  t.equal((await admin(1, 'POST', `${MIGRATION}/validate`)).json().classification, 'ok')
  const done = await admin(0, 'POST', `${MIGRATION}/complete`)
  t.equal(done.statusCode, 200, done.body)
  t.equal(done.json().connection.flow, 'client_credentials')
})
