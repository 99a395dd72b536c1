import t from 'tap'
import pino from 'pino'
import { AuditLog, type AuditInput } from '../../src/admin/audit-log.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { captureLogs } from '../support/log-capture.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'

const event = (i: number, over: Partial<AuditInput> = {}): AuditInput =>
  ({ action: 'connection.rotate', actor: 'ops', connection: `c${i}`, outcome: 'success', ...over }) as AuditInput

t.test('the audit trail goes through the shared state: newest first, filtered, paged past 500 entries', async (t) => {
  const audit = new AuditLog({ logger: pino({ level: 'silent' }), state: new MemorySharedState() })
  for (let i = 0; i < 700; i++) await audit.record(event(i, i % 2 ? { actor: 'bob' } : {}))
  await audit.record(event(700, { action: 'session.issued' }))

  const newest = await audit.list(3)
  t.same(newest.map(e => e.connection), ['c699', 'c698', 'c697'], 'newest first, session.issued left out unless asked for')
  t.same((await audit.list(5, undefined, undefined, 'session.issued')).map(e => e.connection), ['c700'])
  const bobs = await audit.list(400, undefined, 'bob')
  t.equal(bobs.length, 350, 'every match, across more than one page')
  t.equal(bobs.at(-1)?.connection, 'c1')
  t.same((await audit.list(10, 'c4')).map(e => e.connection), ['c4'])
})

t.test('process memory keeps a replica\'s own recent 1000 events', async (t) => {
  const audit = new AuditLog({ logger: pino({ level: 'silent' }), state: new MemorySharedState() })
  for (let i = 0; i < 1005; i++) await audit.record(event(i))
  const all = await audit.list(2000)
  t.equal(all.length, 1000)
  t.equal(all.at(-1)?.connection, 'c5')
})

t.test('with Redis, every replica lists what another recorded, in the stream <prefix>audit', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const store = await tempFileStore(t)
  const a = (await buildTestApp(t, { redisUrl: redis.url, secretStore: store })).app
  const b = (await buildTestApp(t, { redisUrl: redis.url, secretStore: store })).app
  await a.broker.audit.record(event(1))
  await b.broker.audit.record(event(2))
  t.same((await b.broker.audit.list(10)).map(e => e.connection), ['c2', 'c1'])
  t.same((await a.broker.audit.list(10)).map(e => e.connection), ['c2', 'c1'])
  t.equal(await redis.client().type('sfbtest:audit'), 'stream')
  t.equal(await redis.client().xlen('sfbtest:audit'), 2)
  t.equal(await redis.client().exists('sfbtest:audit-handouts'), 0, 'no hand-out recorded, so no hand-out stream')
})

t.test('an audit log line carries `time` once: the record\'s own', async (t) => {
  const logs = captureLogs('info')
  const audit = new AuditLog({ logger: logs.logger, state: new MemorySharedState() })
  const recorded = await audit.record(event(1))
  const line = logs.text().split('\n').find(l => l.includes('"event":"audit"'))
  t.ok(line, 'the audit line')
  t.equal(line?.match(/"time":/g)?.length, 1, 'one time member, as JSON readers keep only one of two')
  const parsed = JSON.parse(line as string) as Record<string, unknown>
  t.match(parsed, { id: recorded.id, action: 'connection.rotate', audit: true })
  t.ok(Math.abs(Date.parse(parsed.time as string) - Date.parse(recorded.time)) < 1000, 'the line\'s time is the record\'s time')
})

t.test('a validation that would send stored secrets to another host is refused and audited', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { principals })
  const admin = (method: 'GET' | 'PUT' | 'POST', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'soap'))).statusCode, 201)
  const before = sim.stats('acme').attempts
  const refused = await admin('POST', '/v1/admin/connections/acme/validate', { loginUrl: 'https://elsewhere.example' })
  t.equal(refused.statusCode, 400)
  t.equal(sim.stats('acme').attempts, before)
  const events = (await admin('GET', '/v1/admin/audit?connection=acme&action=connection.validate')).json().events
  t.match(events, [{ actor: 'ops', outcome: 'rejected', classification: 'not_attempted:secrets_stay_home', target: 'https://elsewhere.example', fields: ['loginUrl'], requestId: refused.headers['x-request-id'] }])
})

t.test('a rotation to another user or app without every secret is refused: the stored ones are not sent there', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { principals })
  const admin = (method: 'GET' | 'PUT' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).statusCode, 201)
  const before = sim.stats('acme').attempts
  for (const patch of [{ username: 'someone-else@acme.example' }, { clientId: 'another-app' }, { username: 'someone-else@acme.example', password: 'only-the-password' }]) {
    const refused = await admin('PATCH', '/v1/admin/connections/acme/credentials', patch)
    t.equal(refused.statusCode, 400, `refused: ${Object.keys(patch).join(', ')}`)
  }
  t.equal(sim.stats('acme').attempts, before, 'nothing was sent to Salesforce')
  const events = (await admin('GET', '/v1/admin/audit?connection=acme&action=credentials.rotate')).json().events
  t.equal(events.filter((e: { classification?: string }) => e.classification === 'not_attempted:secrets_stay_home').length, 3, 'each attempt audited')
})

t.test('paged with `since`, newest first or oldest first, every page keeps to it', async (t) => {
  const audit = new AuditLog({ logger: pino({ level: 'silent' }), state: new MemorySharedState() })
  // the records' own times (what `since` is judged on), a minute apart on either side of it; their stream
  // positions are all of now, within the range the store reads
  const since = Date.now() - 3_600_000
  for (let i = 0; i < 8; i++) {
    await audit.record({ ...event(i), time: new Date(since + (i - 4) * 60_000).toISOString() } as AuditInput)
  }
  for (const order of ['desc', 'asc'] as const) {
    const listed: string[] = []
    let page = await audit.page({ limit: 2, sinceMs: since, order })
    listed.push(...page.events.map(e => e.connection ?? ''))
    while (page.more && page.next) {
      page = await audit.page({ limit: 2, cursor: page.next })
      listed.push(...page.events.map(e => e.connection ?? ''))
    }
    t.same(listed, order === 'desc' ? ['c7', 'c6', 'c5', 'c4'] : ['c4', 'c5', 'c6', 'c7'], `${order}: what was recorded since, over 2 pages`)
  }
})

t.test("a record past its stream's age limit is not listed, though no write has trimmed it yet", async (t) => {
  const audit = new AuditLog({ logger: pino({ level: 'silent' }), state: new MemorySharedState(), retention: { handouts: { maxEntries: 100, maxAgeMs: 3_600_000 } } })
  const handout = (i: number, agoMs: number) => ({ ...event(i, { action: 'session.issued' }), time: new Date(Date.now() - agoMs).toISOString() }) as AuditInput
  for (let i = 0; i < 3; i++) await audit.record(handout(i, 3 * 3_600_000))
  await audit.record(handout(3, 60_000))
  await audit.record(event(4, { time: new Date(Date.now() - 3 * 3_600_000).toISOString() } as Partial<AuditInput>))
  t.same((await audit.page({ limit: 10, stream: 'handouts' })).events.map(e => e.connection), ['c3'], 'hand-outs: only the one within the hour')
  t.same((await audit.page({ limit: 10, stream: 'handouts', sinceMs: Date.now() - 6 * 3_600_000 })).events.map(e => e.connection), ['c3'], 'an earlier `since` does not reach past the limit')
  t.same((await audit.list(10)).map(e => e.connection), ['c4'], 'the admin stream has no age limit here')
})

// RFC 3339 §5.6 allows a leap second (time-second 60), and the query's date-time format accepts it,
// but Date.parse cannot read one: `since` or `until` became NaN, every record compared false, and
// the page came back empty with `more: false` (oldest first, with a `next` past every record it
// never listed). No record is stamped within a leap second (toISOString never writes :60): it
// bounds the records as the end of the second before it does.
t.test('since and until on a leap second (…T23:59:60Z) bound the records as the second before it ends', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { secretStore: await tempFileStore(t), principals })
  const get = (q: string) => app.inject({ method: 'GET', url: `/v1/admin/audit?${q}`, headers: bearer(principals.adminKey) })
  t.equal((await app.inject({ method: 'PUT', url: '/v1/admin/connections/acme', payload: acmeDefinition(sim, 'client_credentials'), headers: bearer(principals.adminKey) })).statusCode, 201)

  const past = await get('since=2016-12-31T23:59:60Z&order=asc')
  t.equal(past.statusCode, 200, past.body)
  t.same(past.json().events.map((e: { action: string }) => e.action), ['connection.create'], 'since a leap second long ago: the record is listed')
  const until = await get('until=2099-12-31T23:59:60.5Z&order=asc')
  t.same(until.json().events.map((e: { action: string }) => e.action), ['connection.create'], 'until a leap second ahead: the record is listed')
  const next = await get(`cursor=${until.json().next as string}`)
  t.same(next.json().events, [], 'and the cursor continues after it')
  const future = await get('since=2099-12-31T23:59:60Z')
  t.same(future.json().events, [], 'since a leap second ahead: nothing yet')
})

t.test('the audit is filtered by every action the broker records, consumer_rotation.* included', async (t) => {
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app } = await buildTestApp(t, { principals })
  const admin = (method: 'GET' | 'PUT' | 'POST', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  t.equal((await admin('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'client_credentials'))).statusCode, 201)
  t.equal((await admin('POST', '/v1/admin/connections/acme/consumer-rotation', { mode: 'setup' })).statusCode, 201)
  const res = await admin('GET', '/v1/admin/audit?connection=acme&action=consumer_rotation.start')
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json().events, [{ action: 'consumer_rotation.start', outcome: 'success' }])
  t.equal(res.json().events.length, 1, 'that action only')
})
