import t from 'tap'
import type { IssuedSession } from '../../src/sessions/session-service.ts'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'

/** A session as the session service hands it out; only the token differs from one to the next. */
function issued (i: number): IssuedSession {
  const now = Date.now()
  return {
    connection: 'acme',
    entry: {
      session: { accessToken: `00Dacme!token-${i}`, instanceUrl: 'https://acme.my.salesforce.com', issuedAt: now } as unknown as IssuedSession['entry']['session'],
      secretVersion: 1,
      apiVersion: '62.0',
      realEnd: now + 7_200_000,
      validUntil: now + 7_080_000,
    },
    expiresAt: now + 900_000,
    apiVersion: '62.0',
    cache: 'miss',
  }
}

// Hand-outs five times the admin stream's cap: were they kept with the admin actions, they would push
// every one of those out.
t.test('sessions handed out, many times the admin stream\'s cap, do not push a single admin action out of the audit', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { redisUrl: redis.url, secretStore: await tempFileStore(t), principals, env: { AUDIT_ADMIN_MAX_ENTRIES: '1000', AUDIT_HANDOUTS_MAX_ENTRIES: '10000' } })
  const admin = (method: 'GET' | 'PUT' | 'POST' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })

  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  t.equal((await admin('POST', '/v1/admin/connections/acme/validate')).statusCode, 200)
  for (let i = 0; i < 300; i++) await app.broker.audit.record({ actor: 'ops', action: 'credentials.rotate', connection: `c${i}`, outcome: 'success' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })).statusCode, 200)

  // the hand-outs, through the path every session answer takes, 1,000 at a time (pipelined)
  for (let i = 0; i < 5000; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => app.broker.handouts.record(`svc-${(i + j) % 40}`, issued(i + j), `req-${i + j}`)))
  }
  const keys = await redis.client().keys('sfbtest:audit*')
  t.same(keys.sort(), ['sfbtest:audit', 'sfbtest:audit-handouts'], 'two streams')
  t.equal(await redis.client().xlen('sfbtest:audit-handouts'), 5001, 'every hand-out kept (AUDIT_HANDOUTS_MAX_ENTRIES 10,000)')

  const actions: Array<{ action: string }> = []
  let page = (await admin('GET', '/v1/admin/audit?limit=100')).json()
  actions.push(...page.events)
  while (page.more) {
    page = (await admin('GET', `/v1/admin/audit?limit=100&cursor=${page.next as string}`)).json()
    actions.push(...page.events)
  }
  t.equal(actions.length, 302, 'every admin action reads back')
  t.same(actions.slice(-2).map(a => a.action), ['connection.validate', 'connection.create'], 'the oldest ones too')

  const mine: unknown[] = []
  let byCaller = (await admin('GET', '/v1/admin/audit?stream=handouts&actor=svc-7&limit=50')).json()
  mine.push(...byCaller.events)
  while (byCaller.more) {
    byCaller = (await admin('GET', `/v1/admin/audit?actor=svc-7&limit=50&cursor=${byCaller.next as string}`)).json()
    mine.push(...byCaller.events)
  }
  t.equal(mine.length, 125, 'one caller\'s hand-outs, across pages that each read a bounded part of the stream')
  t.match(mine[0], { action: 'session.issued', actor: 'svc-7', connection: 'acme', version: 1, tokenFingerprint: /^[0-9a-f]{12}$/, expiresAt: /Z$/ }, 'what the kill switch needs: connection, caller, fingerprint, expiry')
})

t.test('each stream keeps to its own retention: count (about) and age (exact)', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const { app } = await buildTestApp(t, {
    redisUrl: redis.url,
    env: { AUDIT_HANDOUTS_MAX_ENTRIES: '1000', AUDIT_ADMIN_MAX_AGE_DAYS: '30', AUDIT_ADMIN_MAX_ENTRIES: '100' },
  })
  for (let i = 0; i < 5000; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => app.broker.handouts.record('svc', issued(i + j), `r${i + j}`)))
  const handouts = await redis.client().xlen('sfbtest:audit-handouts')
  t.ok(handouts >= 1000 && handouts < 1200, `about the newest 1,000 hand-outs kept (${handouts}: Redis trims whole nodes)`)

  // admin records from 40 days ago (stream ids are times) leave at the next write
  const old = Date.now() - 40 * 86_400_000
  for (let i = 0; i < 50; i++) await redis.client().xadd('sfbtest:audit', `${old + i}-0`, 'e', JSON.stringify({ id: `old-${i}`, time: new Date(old + i).toISOString(), actor: 'ops', action: 'connection.create', outcome: 'success' }))
  t.equal(await redis.client().xlen('sfbtest:audit'), 50)
  await app.broker.audit.record({ actor: 'ops', action: 'connection.delete', connection: 'acme', outcome: 'success' })
  t.equal(await redis.client().xlen('sfbtest:audit'), 1, 'nothing older than AUDIT_ADMIN_MAX_AGE_DAYS stays')
  for (let i = 0; i < 400; i++) await app.broker.audit.record({ actor: 'ops', action: 'credentials.rotate', connection: 'acme', outcome: 'success' })
  t.ok(await redis.client().xlen('sfbtest:audit') < 200, 'and about AUDIT_ADMIN_MAX_ENTRIES')
})
