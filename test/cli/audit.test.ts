import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { pointInTime } from '../../src/cli/commands/audit.ts'
import { listenTestApp } from '../helper.ts'
import { sfb } from './support.ts'

t.test('sfb audit --since lists every admin action from then on, oldest first, across pages', async (t) => {
  const { app, url, principals } = await listenTestApp(t)
  const dir = await mkdtemp(join(tmpdir(), 'sfb-audit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const keyFile = join(dir, 'admin-key')
  await writeFile(keyFile, principals.adminKey + '\n', { mode: 0o600 })
  const env = { SFB_URL: url, SFB_ADMIN_KEY_FILE: keyFile }

  // the in-memory shared state of a single replica (the demo's) keeps its newest 1,000 per stream
  for (let i = 0; i < 1000; i++) await app.broker.audit.record({ actor: i === 0 ? 'alice' : 'ops', action: 'credentials.rotate', connection: `c${i}`, outcome: 'success', version: 2, fields: ['password'] })
  await app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: { authorization: `Bearer ${principals.billingKey}` } })

  const all = await sfb(['audit', '--since', '1h', '--json'], env)
  t.equal(all.code, 0, all.stderr)
  const listed = JSON.parse(all.stdout) as { events: Array<{ connection: string }>, next: string }
  t.equal(listed.events.length, 1000, 'two pages of the API, one listing')
  t.equal(listed.events[0].connection, 'c0', 'oldest first')
  t.match(listed.next, /^[A-Za-z0-9_-]+$/, 'where to go on from next time')

  const table = await sfb(['audit', '--since', new Date(Date.now() - 60_000).toISOString(), '--actor', 'alice'], env)
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /^TIME\s+ACTOR\s+ACTION/)
  t.match(table.stdout, /\n\S+Z\s+alice\s+credentials\.rotate\s+c0\s+success\s+2\s+fields: password\n$/)

  const later = await sfb(['audit', '--since', new Date(Date.now() + 86_400_000).toISOString().slice(0, 10), '--json'], env)
  t.same(JSON.parse(later.stdout).events, [], 'tomorrow: nothing yet')

  const bad = await sfb(['audit', '--since', 'yesterday'], env)
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--since wants a time such as/)
})

t.test('times for --since and --until: RFC 3339, a date (UTC midnight) or a span back from now', async (t) => {
  const now = Date.parse('2026-12-04T12:00:00Z')
  t.equal(pointInTime('30m', '--since', now), '2026-12-04T11:30:00.000Z')
  t.equal(pointInTime('7d', '--since', now), '2026-11-27T12:00:00.000Z')
  t.equal(pointInTime('2026-12-01', '--since', now), '2026-12-01T00:00:00.000Z')
  t.equal(pointInTime('2026-12-01T09:00:00+01:00', '--since', now), '2026-12-01T08:00:00.000Z')
  t.throws(() => pointInTime('2026-13-45', '--until', now), /--until wants a time/)
})
