import t from 'tap'
import type { AuditInput } from '../../src/admin/audit-log.ts'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'

interface Event { id: string, time: string, action: string, actor: string, connection?: string }
interface Page { stream: string, order: string, events: Event[], next?: string, more: boolean }

t.test('a SIEM pulls the whole admin audit since a time, page by page, then polls for what is new', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const sim = await startSim(t)
  const principals = testPrincipals(['*'])
  const { app, url } = await listenTestApp(t, { redisUrl: redis.url, secretStore: await tempFileStore(t), principals })
  const get = async (path: string): Promise<{ status: number, type: string | null, body: Record<string, unknown> }> => {
    const res = await fetch(url + path, { headers: bearer(principals.adminKey) })
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() as Record<string, unknown> }
  }
  const send = (method: string, path: string, body?: unknown) => fetch(url + path, {
    method,
    headers: { ...bearer(principals.adminKey), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

  const since = new Date(Date.now() - 1000).toISOString()
  t.equal((await send('PUT', '/v1/admin/connections/acme', acmeDefinition(sim, 'oauth_password'))).status, 201)
  t.equal((await send('POST', '/v1/admin/connections/acme/validate')).status, 200)
  t.equal((await send('POST', '/v1/admin/connections/acme/sessions/revoke')).status, 200)
  // many more admin actions, recorded the way every admin action is
  const bulk = (i: number): AuditInput => ({ actor: `admin-${i % 7}`, action: 'credentials.rotate', connection: `c${i}`, outcome: 'success', requestId: `r${i}` })
  for (let i = 0; i < 2400; i += 400) await Promise.all(Array.from({ length: 400 }, (_, j) => app.broker.audit.record(bulk(i + j))))
  const handed = await fetch(`${url}/v1/connections/acme/session`, { method: 'POST', headers: bearer(principals.billingKey) })
  t.equal(handed.status, 200)

  // the SIEM: since a time, oldest first, following `next` while `more`
  const pulled: Event[] = []
  let page = (await get(`/v1/admin/audit?since=${encodeURIComponent(since)}&order=asc&limit=500`)).body as unknown as Page
  let pages = 1
  for (;;) {
    pulled.push(...page.events)
    if (!page.more) break
    page = (await get(`/v1/admin/audit?cursor=${page.next}&limit=500`)).body as unknown as Page
    pages++
  }
  t.equal(pulled.length, 2403, 'every admin action, none twice')
  t.equal(new Set(pulled.map(e => e.id)).size, 2403)
  t.equal(pages, 5)
  t.same(pulled.slice(0, 3).map(e => e.action), ['connection.create', 'connection.validate', 'sessions.revoke'], 'oldest first')
  t.ok(pulled.every((e, i) => i === 0 || e.time >= pulled[i - 1].time), 'in time order')
  t.notOk(pulled.some(e => e.action === 'session.issued'), 'hand-outs are their own stream')
  t.match(page, { stream: 'admin', order: 'asc', more: false, next: /^[A-Za-z0-9_-]+$/ }, 'the last page still says where to poll from')

  // later: polling with the last cursor brings exactly what is new
  const resume = page.next as string
  const quiet = (await get(`/v1/admin/audit?cursor=${resume}`)).body as unknown as Page
  t.same(quiet.events, [])
  t.equal(quiet.more, false)
  await app.broker.audit.record({ actor: 'ops', action: 'connection.delete', connection: 'c1', outcome: 'success' })
  const fresh = (await get(`/v1/admin/audit?cursor=${quiet.next as string}`)).body as unknown as Page
  t.same(fresh.events.map(e => e.action), ['connection.delete'])

  // a bounded range, and filters across pages
  const until = pulled[99].time
  const bounded = (await get(`/v1/admin/audit?since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}&order=asc&limit=1000`)).body as unknown as Page
  t.ok(bounded.events.length >= 100 && bounded.events.every(e => e.time <= until), 'nothing after until')
  t.equal(bounded.more, false)
  const oneAdmin = (await get('/v1/admin/audit?actor=admin-3&limit=1000')).body as unknown as Page
  t.equal(oneAdmin.events.length, 343, 'a filter reads past the first chunk')
  t.ok(oneAdmin.events.every(e => e.actor === 'admin-3'))

  // the hand-out stream, by name
  const handouts = (await get(`/v1/admin/audit?stream=handouts&since=${encodeURIComponent(since)}&order=asc`)).body as unknown as Page
  t.match(handouts, { stream: 'handouts', events: [{ action: 'session.issued', actor: 'billing', connection: 'acme' }] })
  t.equal(handouts.events.length, 1)

  // newest first (the default), page by page down to the oldest
  let newest = (await get('/v1/admin/audit?limit=1000')).body as unknown as Page
  const down: Event[] = [...newest.events]
  while (newest.more) {
    newest = (await get(`/v1/admin/audit?cursor=${newest.next as string}&limit=1000`)).body as unknown as Page
    down.push(...newest.events)
  }
  t.equal(down.length, 2404)
  t.equal(down[0].action, 'connection.delete')
  t.equal(newest.next, undefined, 'no cursor past the oldest event')

  // refusals: one shape, no echo
  const forged = await get('/v1/admin/audit?cursor=bm90LWEtY3Vyc29y')
  t.equal(forged.status, 400)
  t.match(forged.type, /^application\/problem\+json/)
  t.match(forged.body, { code: 'bad_request', errors: [{ path: 'querystring/cursor' }] })
  t.equal((await get(`/v1/admin/audit?cursor=${resume}&stream=handouts`)).status, 400, 'a cursor continues its own stream')
  t.equal((await get('/v1/admin/audit?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z')).status, 400)
  t.equal((await get('/v1/admin/audit?since=yesterday')).status, 400)
  t.equal((await fetch(`${url}/v1/admin/audit`, { headers: bearer(principals.billingKey) })).status, 403, 'a service cannot read the audit')
})

t.test('a forged cursor of any JSON value is refused as one: 400, never a 500', async (t) => {
  const principals = testPrincipals(['*'])
  const { url } = await listenTestApp(t, { principals })
  for (const doc of ['null', '5', '"admin"', '[]', '{}']) {
    const res = await fetch(`${url}/v1/admin/audit?cursor=${Buffer.from(doc).toString('base64url')}`, { headers: bearer(principals.adminKey) })
    t.equal(res.status, 400, doc)
    t.match(res.headers.get('content-type'), /^application\/problem\+json/)
    t.match(await res.json(), { code: 'bad_request', errors: [{ path: 'querystring/cursor' }] })
  }
})
