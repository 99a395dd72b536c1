import t from 'tap'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { testPrincipals } from '../support/principals.ts'
import { startRedis } from '../support/redis.ts'
import { until } from '../support/redis-topologies.ts'

interface Event { id: string, time: string, action: string, actor: string, connection?: string }
interface Page { events: Event[], next?: string, more: boolean }

// While Redis is down a replica records its admin actions in process memory (and the log, and the
// sinks); the audit API lists the shared stream. What was recorded during the outage must reach that
// stream when Redis is back, or it vanishes from the API for every replica, this one included.

t.test('admin actions recorded while Redis was down reach the shared audit when it is back', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  const principals = testPrincipals(['*'])
  const a = await listenTestApp(t, { redisUrl: redis.url, secretStore: store, principals })
  const b = await listenTestApp(t, { redisUrl: redis.url, secretStore: store, principals })
  const call = async (url: string, method: string, path: string, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }> => {
    const res = await fetch(url + path, {
      method,
      headers: { ...bearer(principals.adminKey), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, json: await res.json() as Record<string, unknown> }
  }

  t.equal((await call(a.url, 'PUT', '/v1/admin/connections/before', acmeDefinition(sim, 'client_credentials'))).status, 201)
  // a SIEM that polls oldest first has read everything so far
  const polled = (await call(b.url, 'GET', '/v1/admin/audit?order=asc&limit=100')).json as unknown as Page
  t.same(polled.events.map(e => e.connection), ['before'])

  await redis.stop()
  const during = await call(a.url, 'PUT', '/v1/admin/connections/during', acmeDefinition(sim, 'client_credentials'))
  t.ok([201, 202].includes(during.status), 'the write is done (its fleet-wide effects may be pending)')
  const whileDown = ((await call(a.url, 'GET', '/v1/admin/audit?limit=10')).json as unknown as Page).events
  t.same(whileDown.map(e => e.connection), ['during', 'before'], 'replica a lists its own records from process memory meanwhile')

  await redis.start()
  // any call replica a makes to Redis tells it that Redis is back; its readiness probe is one
  await until('replica a sees Redis again', async () => (await fetch(a.url + '/health/ready')).status === 200)
  t.equal((await call(a.url, 'PUT', '/v1/admin/connections/after', acmeDefinition(sim, 'client_credentials'))).status, 201)

  const listed = async (url: string): Promise<string[]> => (((await call(url, 'GET', '/v1/admin/audit?limit=10')).json as unknown as Page).events).map(e => e.connection ?? '')
  await until('the record made during the outage is in the shared stream', async () => (await listed(b.url)).includes('during'))
  // the test's redis-server keeps nothing on disk: 'before' went with the restart; a Redis that was only
  // unreachable still holds it
  t.same((await listed(b.url)).sort(), ['after', 'during'], 'replica b lists every action since the restart, each once')
  t.same((await listed(a.url)).sort(), ['after', 'during'], 'and so does replica a, now reading Redis')

  // the SIEM's next poll brings what is new, the outage's record included
  const next = (await call(b.url, 'GET', `/v1/admin/audit?cursor=${polled.next as string}`)).json as unknown as Page
  t.same(next.events.map(e => e.connection).sort(), ['after', 'during'])
  const during0 = next.events.find(e => e.connection === 'during')
  t.match(during0, { id: whileDown[0].id, time: whileDown[0].time, action: 'connection.create', actor: whileDown[0].actor }, 'the record as it was made: its own id, time and actor')
})
