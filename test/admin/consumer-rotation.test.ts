import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ACME, KEYS, acmeDefinition, acmeOrg, bearer, buildTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { startRedis } from '../support/redis.ts'
import { testPrincipals } from '../support/principals.ts'
import type { SimOrgOptions, Simulator } from '../../packages/simulator/src/index.ts'
import { FileSecretStore } from '../../src/secrets/file-store.ts'

const ROTATION = '/v1/admin/connections/acme/consumer-rotation'
const APP_ID = 'acme_integration_eca'
const RIGHTS = { PermissionsExternalClientAppDeveloper: true, PermissionsViewClientSecret: true }

/** The acme org whose integration user may (or may not) manage its External Client App's credentials. */
function eca (opts: { rights?: boolean, setting?: boolean } = {}): SimOrgOptions {
  const org = acmeOrg()
  return {
    ...org,
    users: [{ ...org.users![0], permissions: opts.rights === false ? {} : RIGHTS }],
    connectedApps: [{ ...org.connectedApps![0], appId: APP_ID, consumerSecretsViaRestApi: opts.setting !== false }],
  }
}

/** Two replicas sharing Redis and one file store, as in a small deployment. */
async function twoReplicas (t: Teardown, env: Record<string, string> = {}) {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const apps: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) apps.push((await buildTestApp(t, { redisUrl: redis.url, secretStore: store, principals, env })).app)
  const admin = (i: number, method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, payload?: object) =>
    apps[i].inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = (i: number) => apps[i % 2].inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  return { admin, session }
}

/** Callers asking both replicas for sessions without pause, until stopped: every status kept. */
/** A broker with two orgs at the simulator: acme, and globex with an app of its own; `globex` is a client-credentials definition for globex's app. */
async function acmeAndGlobex (t: Teardown) {
  const GLOBEX_KEY = '3MVG9globex.consumer.key'
  const sim = await startSim(t, [acmeOrg(), acmeOrg({ key: 'globex', connectedApps: [{ clientId: GLOBEX_KEY, clientSecret: 'globex-secret-0123456789', certificatePem: KEYS.certificatePem, clientCredentialsUser: ACME.username }] })])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const globex = { ...acmeDefinition(sim), loginUrl: sim.myDomainUrl('globex'), clientId: GLOBEX_KEY, clientSecret: 'globex-secret-0123456789' }
  return { sim, store, admin, globex }
}

function load (session: (i: number) => Promise<{ statusCode: number }>) {
  const statuses: number[] = []
  const run = { on: true }
  const workers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = w; run.on; i += 4) {
      statuses.push((await session(i)).statusCode)
      await new Promise(resolve => setImmediate(resolve))
    }
  })
  return { async stop () { run.on = false; await Promise.all(workers); return statuses } }
}

/** What an admin does in Salesforce Setup, through the simulator's control API. */
async function setup (sim: Simulator, method: 'POST' | 'DELETE', path: string): Promise<Record<string, string>> {
  const res = await fetch(`${sim.loginUrl}/_sim/orgs/acme/apps/${ACME.clientId}${path}`, { method })
  if (!res.ok) throw new Error(`simulator control API ${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<Record<string, string>>
}

async function clientCredentials (sim: Simulator, clientId: string, clientSecret: string) {
  const res = await fetch(`${sim.myDomainUrl('acme')}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
  })
  return { status: res.status, json: await res.json() as Record<string, string> }
}

t.test('client credentials, API mode, 2 replicas under load: one login, zero failed requests, the old pair gone', async t => {
  const sim = await startSim(t, [eca()])
  const { admin, session } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await session(1)).statusCode, 200)
  const traffic = load(session)
  const before = sim.stats('acme').attempts

  const done = await admin(1, 'POST', `${ROTATION}/run`, { appId: APP_ID })
  t.equal(done.statusCode, 200, done.body)
  const view = done.json()
  t.equal(view.mode, 'api')
  t.equal(view.step, 'done', JSON.stringify(view))
  t.equal(view.oldClientId, ACME.clientId)
  t.match(view.newClientId, /^3MVG9/)
  t.notMatch(done.body, sim.org('acme').connectedApps.get(ACME.clientId)!.clientSecret, 'the new secret never comes back')

  const afterSwitch = await Promise.all(Array.from({ length: 40 }, (_, i) => session(i)))
  t.same([...new Set(afterSwitch.map(a => a.statusCode))], [200])
  const statuses = await traffic.stop()
  t.ok(statuses.length > 20, `load ran throughout (${statuses.length} requests)`)
  t.same([...new Set(statuses)], [200], 'zero failed session requests')
  t.equal(sim.stats('acme').attempts - before, 1, 'one login: the validation, whose session then serves the fleet')
  t.equal(new Set(afterSwitch.map(a => a.json().accessToken)).size, 1, 'both replicas serve the one new session')

  t.equal((await admin(0, 'GET', '/v1/admin/connections/acme')).json().clientId, view.newClientId, 'the stored consumer key is the new one')
  t.equal((await clientCredentials(sim, ACME.clientId, ACME.clientSecret)).json.error, 'invalid_client_id', 'the old pair is deleted at Salesforce')
  const app = sim.org('acme').connectedApps.get(ACME.clientId)!
  t.equal(app.consumerKey, view.newClientId, 'promoted at Salesforce')
  t.same(app.stagedCredentials, [], 'nothing left staged')
  t.equal((await admin(0, 'GET', ROTATION)).statusCode, 404, 'nothing under way any more')
  const audit = (await admin(0, 'GET', '/v1/admin/audit?connection=acme')).json().events.map((e: { action: string, outcome: string }) => `${e.action}:${e.outcome}`)
  for (const step of ['start', 'validate', 'complete']) t.ok(audit.includes(`consumer_rotation.${step}:success`), `audited: ${step}`)
})

t.test('without the rights: guided through Setup, each step checked, 2 replicas under load with zero failed requests', async t => {
  const sim = await startSim(t, [eca({ rights: false })])
  const { admin, session } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await session(0)).statusCode, 200)
  const traffic = load(session)
  // every org: a login with a deleted consumer key names no org at Salesforce
  const before = sim.stats()

  const started = await admin(0, 'POST', ROTATION, { appId: APP_ID })
  t.equal(started.statusCode, 201, started.body)
  t.equal(started.json().mode, 'setup')
  t.match(started.json().setupReason, /External Client App Developer/)
  t.match(started.json().steps.join('\n'), /Setup > External Client App Manager/)
  t.equal((await admin(1, 'POST', ROTATION)).statusCode, 409, 'one rotation at a time')
  t.equal((await admin(1, 'POST', `${ROTATION}/validate`)).statusCode, 400, 'Setup mode needs the staged pair')
  t.equal((await admin(1, 'POST', `${ROTATION}/complete`)).statusCode, 409, 'no switch before a validation')

  const staged = await setup(sim, 'POST', '/staged')
  const wrong = await admin(1, 'POST', `${ROTATION}/validate`, { clientId: staged.consumerKey, clientSecret: 'not-the-secret' })
  t.equal(wrong.json().classification, 'invalid_client')
  const ok = await admin(0, 'POST', `${ROTATION}/validate`, { clientId: staged.consumerKey, clientSecret: staged.consumerSecret })
  t.equal(ok.json().classification, 'ok', ok.body)
  t.match(ok.json().nextStep, /complete/)
  t.notMatch(ok.body, new RegExp(staged.consumerSecret), 'the staged secret never comes back')

  const switched = await admin(1, 'POST', `${ROTATION}/complete`)
  t.equal(switched.statusCode, 200, switched.body)
  t.equal(switched.json().step, 'switched')
  t.match(switched.json().nextStep, /promote .* delete the old/)
  t.equal((await admin(0, 'GET', '/v1/admin/connections/acme')).json().clientId, staged.consumerKey)

  const early = await admin(0, 'POST', `${ROTATION}/verify`)
  t.equal(early.json().step, 'switched')
  t.match(early.json().pending.join(), /still log in/, 'the old pair still works: not done')

  await setup(sim, 'POST', '/staged/promote')
  await setup(sim, 'DELETE', '/staged/rotated')
  const verified = await admin(1, 'POST', `${ROTATION}/verify`)
  t.equal(verified.json().step, 'done', verified.body)

  const afterSwitch = await Promise.all(Array.from({ length: 20 }, (_, i) => session(i)))
  t.same([...new Set(afterSwitch.map(a => a.statusCode))], [200])
  const statuses = await traffic.stop()
  t.same([...new Set(statuses)], [200], `zero failed session requests (${statuses.length})`)
  const after = sim.stats()
  // the wrong secret, the staged pair, the old pair still valid, the fleet's one login after the switch, the old pair refused
  t.equal(after.attempts - before.attempts, 5, 'logins: two validations, two verifications, one after the switch')
  t.equal(after.failures - before.failures, 2)
})

t.test('API mode refused by the org (setting off): the answer says why and falls back to Setup', async t => {
  const sim = await startSim(t, [eca({ setting: false })])
  const { admin } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  const run = await admin(0, 'POST', `${ROTATION}/run`, { appId: APP_ID })
  t.equal(run.statusCode, 200)
  t.equal(run.json().mode, 'setup')
  t.match(run.json().setupReason, /Allow access to External Client App consumer secrets via REST API/)
  t.equal((await admin(0, 'DELETE', ROTATION)).statusCode, 204, 'abandoned')
  t.equal((await admin(0, 'GET', ROTATION)).statusCode, 404)
})

t.test('JWT bearer: the consumer key rotates through the API with one login', async t => {
  const sim = await startSim(t, [eca()])
  const { admin, session } = await twoReplicas(t)
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'jwt_bearer'))).statusCode, 201)
  t.equal((await admin(0, 'PUT', `${ROTATION}/policy`, { appId: APP_ID, rotateEveryDays: 90 })).statusCode, 200)
  const before = sim.stats('acme').attempts
  const done = await admin(1, 'POST', `${ROTATION}/run`)
  t.equal(done.json().step, 'done', done.body)
  t.equal((await session(0)).statusCode, 200)
  t.equal(sim.stats('acme').attempts - before, 1)
  t.equal((await admin(0, 'GET', '/v1/admin/connections/acme')).json().clientId, done.json().newClientId)
  t.ok((await admin(1, 'GET', `${ROTATION}/policy`)).json().lastRotatedAt, 'the policy remembers the rotation')
})

t.test('REVOKE_ON_ROTATION: the switch to the new pair revokes the sessions of the old one, cached and handed out', async t => {
  const sim = await startSim(t, [eca()])
  const { admin, session } = await twoReplicas(t, { REVOKE_ON_ROTATION: 'true' })
  t.equal((await admin(0, 'PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  const handedOut = (await session(0)).json()
  // an admin's validation puts its own session in the cache: the first one is now only handed out
  t.equal((await admin(0, 'POST', '/v1/admin/connections/acme/validate')).statusCode, 200)
  const cached = (await session(1)).json()
  t.not(cached.accessToken, handedOut.accessToken)
  const works = async (s: { instanceUrl: string, accessToken: string }) =>
    (await fetch(`${s.instanceUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${s.accessToken}` } })).status === 200

  const done = await admin(1, 'POST', `${ROTATION}/run`, { appId: APP_ID })
  t.equal(done.json().step, 'done', done.body)
  t.notOk(await works(cached), 'the cached session of the old pair is revoked')
  t.notOk(await works(handedOut), 'and so is the one handed out before it')
  const now = (await session(0)).json()
  t.ok(await works(now), 'the validating login\'s session serves, alive')
})

t.test('rotateEveryDays: the validation round rotates through the API once the days have passed, not before', async t => {
  const sim = await startSim(t, [eca()])
  const { app, principals } = await buildTestApp(t)
  const admin = (method: 'GET' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await admin('PUT', `${ROTATION}/policy`, { appId: APP_ID, rotateEveryDays: 30 })).statusCode, 200)
  const rotations = app.broker.consumerRotations
  const before = sim.stats('acme').attempts
  t.equal(await rotations.runIfDue('acme'), null, 'not due on the day the policy is set')
  const day = 86_400_000
  const done = await rotations.runIfDue('acme', Date.now() + 31 * day)
  t.equal(done?.step, 'done')
  t.equal(sim.stats('acme').attempts - before, 1, 'one login')
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().clientId, done?.newClientId)
  t.equal(await rotations.runIfDue('acme', Date.now() + 29 * day), null, 'counted from the last rotation')
  const audit = (await admin('GET', '/v1/admin/audit?connection=acme')).json().events as Array<{ action: string, actor: string }>
  t.ok(audit.some(e => e.action === 'consumer_rotation.complete' && e.actor === 'scheduler'), 'audited as the scheduler')
})

t.test('a connection written between validation and complete: complete refuses, validating again checks the pair with the new settings, nothing is undone', async (t) => {
  const sim = await startSim(t, [acmeOrg()])
  const store = await tempFileStore(t)
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object, headers: Record<string, string> = {}) => app.inject({ method, url, payload, headers: { ...bearer(principals.adminKey), ...headers } })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await admin('POST', ROTATION, { mode: 'setup' })).statusCode, 201)
  const staged = await (await fetch(`${sim.loginUrl}/_sim/orgs/acme/apps/${ACME.clientId}/staged`, { method: 'POST' })).json() as { consumerKey: string, consumerSecret: string }
  const validated = await admin('POST', `${ROTATION}/validate`, { clientId: staged.consumerKey, clientSecret: staged.consumerSecret })
  t.equal(validated.json().classification, 'ok', validated.body)

  // meanwhile (the Setup steps take a while) another admin records the org's new session timeout
  const changed = await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials', { sessionTimeoutSeconds: 900 }))
  t.equal(changed.json().version, 2, changed.body)

  const refused = await admin('POST', `${ROTATION}/complete`)
  t.equal(refused.statusCode, 409, 'the copy validated with version 1 is not written over version 2')
  t.match(refused.json().detail, /validate again/)
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().version, 2, 'nothing written')
  // a refused switch is in the audit like a refused rotation: who tried, and over which version
  const stale = await admin('POST', `${ROTATION}/complete`, undefined, { 'if-match': '"1"' })
  t.equal(stale.statusCode, 409, stale.body)
  const audited = (await admin('GET', '/v1/admin/audit?connection=acme&limit=20')).json().events
    .filter((e: { action: string }) => e.action === 'consumer_rotation.complete')
  t.match(audited, [{ outcome: 'conflict', version: 2 }, { outcome: 'conflict', version: 2 }], 'both refused switches audited')

  const again = await admin('POST', `${ROTATION}/validate`)
  t.equal(again.json().classification, 'ok', 'the staged pair, kept, logs in with the connection as it is now')
  const completed = await admin('POST', `${ROTATION}/complete`)
  t.equal(completed.statusCode, 200, completed.body)
  t.equal(completed.json().fromVersion, 2, 'a rollback goes to the version the switch replaced')
  const now = (await admin('GET', '/v1/admin/connections/acme')).json()
  t.match(now, { version: 3, clientId: staged.consumerKey, sessionTimeoutSeconds: 900 }, "the new pair on version 2's settings")
})

t.test('a deleted connection takes its consumer rotation with it: a new connection of that name inherits no state and no staged secret', async (t) => {
  const { sim, store, admin, globex } = await acmeAndGlobex(t)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await admin('POST', ROTATION, { mode: 'setup' })).statusCode, 201)
  const staged = await setup(sim, 'POST', '/staged') as { consumerKey: string, consumerSecret: string }
  const validated = await admin('POST', `${ROTATION}/validate`, { clientId: staged.consumerKey, clientSecret: staged.consumerSecret })
  t.equal(validated.json().classification, 'ok', validated.body)
  t.equal((await admin('PUT', `${ROTATION}/policy`, { appId: APP_ID, rotateEveryDays: 90 })).statusCode, 200)

  t.equal((await admin('DELETE', '/v1/admin/connections/acme')).statusCode, 204)
  t.equal(await store.folder('_consumer-rotations').read('acme'), null, 'the staged secret is gone with the connection')

  // the name is reused for another org's app
  t.equal((await admin('PUT', '/v1/admin/connections/acme', globex)).statusCode, 201)
  t.equal((await admin('GET', ROTATION)).statusCode, 404, 'no rotation under way for the new connection')
  t.equal((await admin('GET', `${ROTATION}/policy`)).statusCode, 404, "no schedule with the deleted connection's app")
  const attempts = sim.stats().attempts
  const inherited = await admin('POST', `${ROTATION}/validate`)
  t.equal(inherited.statusCode, 404, inherited.body)
  t.equal(sim.stats().attempts, attempts, "the old connection's staged pair is never sent to the new connection's host")
  t.equal((await admin('POST', ROTATION, { mode: 'setup' })).statusCode, 201, 'a rotation starts afresh')
})

t.test('a connection moved to another host during a rotation: neither the staged pair nor the replaced one is sent to the new host', async (t) => {
  const { sim, admin, globex } = await acmeAndGlobex(t)

  // staged and validated, then the connection is pointed at another org's app (a PUT, not a delete)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await admin('POST', ROTATION, { mode: 'setup' })).statusCode, 201)
  const staged = await setup(sim, 'POST', '/staged') as { consumerKey: string, consumerSecret: string }
  t.equal((await admin('POST', `${ROTATION}/validate`, { clientId: staged.consumerKey, clientSecret: staged.consumerSecret })).json().classification, 'ok')
  t.equal((await admin('PUT', '/v1/admin/connections/acme', globex)).statusCode, 200)
  const before = { globex: sim.stats('globex').attempts, all: sim.stats().attempts }
  const again = await admin('POST', `${ROTATION}/validate`)
  t.equal(again.statusCode, 400, again.body)
  t.equal(again.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.notMatch(again.body, staged.consumerSecret)
  t.same({ globex: sim.stats('globex').attempts, all: sim.stats().attempts }, before, "acme's staged secret is not sent to globex's host")
  t.equal((await admin('DELETE', ROTATION)).statusCode, 204)

  // switched on acme, then moved: verifying the replaced pair sends it to acme's host only
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 200)
  t.equal((await admin('POST', ROTATION, { mode: 'setup' })).statusCode, 201)
  // the pair staged in Setup is still there
  t.equal((await admin('POST', `${ROTATION}/validate`, { clientId: staged.consumerKey, clientSecret: staged.consumerSecret })).json().classification, 'ok')
  t.equal((await admin('POST', `${ROTATION}/complete`)).statusCode, 200)
  t.equal((await admin('PUT', '/v1/admin/connections/acme', globex)).statusCode, 200)
  const counts = () => ({ acme: sim.stats('acme').attempts, all: sim.stats().attempts })
  const verifyBefore = counts()
  const verified = await admin('POST', `${ROTATION}/verify`)
  t.equal(verified.statusCode, 200, verified.body)
  t.same(counts(), { acme: verifyBefore.acme + 1, all: verifyBefore.all + 1 }, "acme's replaced pair is sent to acme's host only")
  // nobody deleted it in Setup: not "done" because another org did not know it
  t.match(verified.json(), { step: 'switched', pending: [/still log in/] })
})

t.test('rotateEveryDays: a scheduled rotation whose staged pair does not log in is not left half-way', async t => {
  const sim = await startSim(t, [eca()])
  const { app, principals } = await buildTestApp(t)
  const admin = (method: 'GET' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  t.equal((await admin('PUT', `${ROTATION}/policy`, { appId: APP_ID, rotateEveryDays: 30 })).statusCode, 200)
  // Salesforce refuses the next login (the hourly login limit): the pair is staged through the cached session, its login fails
  sim.org('acme').loginRatePerHour = sim.stats('acme').attempts
  const due = Date.now() + 31 * 86_400_000
  const result = await app.broker.consumerRotations.runIfDue('acme', due).catch((err: unknown) => err)
  t.ok(result !== null, 'it was due')
  t.equal((await admin('GET', ROTATION)).statusCode, 404, 'no rotation left under way: a later round starts afresh')
  t.same(sim.org('acme').connectedApps.get(ACME.clientId)!.stagedCredentials, [], 'nothing left staged at Salesforce')
  t.equal((await admin('GET', '/v1/admin/connections/acme')).json().clientId, ACME.clientId, 'the connection keeps its pair')

  // not at the very next validation round (each try stages a pair and spends a login), but a day later
  sim.org('acme').loginRatePerHour = 3600
  t.equal(await app.broker.consumerRotations.runIfDue('acme', due + 300_000), null, 'not tried again minutes later')
  t.same(sim.org('acme').connectedApps.get(ACME.clientId)!.stagedCredentials, [])
})

t.test('a start whose staging Salesforce does not answer is audited as an error, and leaves nothing under way', async t => {
  const sim = await startSim(t, [eca()])
  const { app, principals } = await buildTestApp(t)
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  sim.setDown(true)
  const started = await admin('POST', ROTATION, { appId: APP_ID })
  sim.setDown(false)
  t.equal(started.statusCode, 503, started.body)
  t.equal(started.json().type, 'urn:sf-broker:problem:salesforce_unavailable')
  t.equal((await admin('GET', ROTATION)).statusCode, 404, 'nothing under way')
  const events = (await admin('GET', '/v1/admin/audit?connection=acme&limit=20')).json().events as Array<{ action: string, outcome: string, classification?: string }>
  t.match(events.filter(e => e.action === 'consumer_rotation.start'), [{ outcome: 'error', classification: 'unreachable' }], 'the attempt is in the audit')
})

t.test('API mode: a staged pair the broker could not keep (its store failed) is deleted at Salesforce, not left there', async (t) => {
  const sim = await startSim(t, [eca()])
  const dir = await mkdtemp(join(tmpdir(), 'sfb-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const store = new FileSecretStore({ path: join(dir, 'connections.enc'), key: randomBytes(32) })
  const principals = testPrincipals(['acme'], 1_000_000)
  const { app } = await buildTestApp(t, { secretStore: store, principals })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim))).statusCode, 201)
  // the store's folder for staged pairs cannot be written (its file is a folder; in Vault: a policy without that path)
  await mkdir(join(dir, 'connections.enc._consumer-rotations'))

  const started = await admin('POST', ROTATION, { appId: APP_ID })
  t.equal(started.statusCode, 503, started.body)
  t.notMatch(started.body, /EISDIR|consumer-rotations/, 'no file path or system error in the answer')
  t.same(sim.org('acme').connectedApps.get(ACME.clientId)!.stagedCredentials, [], 'the staged pair was deleted at Salesforce: no second secret of the app left that nobody knows of')
  t.equal((await admin('GET', ROTATION)).statusCode, 404, 'nothing under way')
  const audit = (await admin('GET', '/v1/admin/audit?connection=acme')).json().events.map((e: { action: string, outcome: string }) => `${e.action}:${e.outcome}`)
  t.ok(audit.includes('consumer_rotation.start:error'), 'the attempt is audited')
})
