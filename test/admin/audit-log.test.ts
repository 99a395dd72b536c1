import t from 'tap'
import pino from 'pino'
import { AuditLog, type AuditInput } from '../../src/admin/audit-log.ts'
import { MemorySharedState } from '../../src/shared-state/memory-state.ts'
import { buildTestApp, tempFileStore } from '../helper.ts'
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
  const keys = await redis.client().keys('*audit*')
  t.equal(keys.length, 1)
  t.match(keys[0], /audit$/)
  t.equal(await redis.client().xlen(keys[0]), 2)
})
