import { createServer } from 'node:http'
import t from 'tap'
import { BrokerError, adminPath, createAdminClient, type AdminAnswer } from '../src/index.ts'
import { startBroker } from './support.ts'

/** The admin request helper against a real broker: answers as sent, every refusal a BrokerError with its problem document. */

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure') }, (e: unknown) => e as BrokerError)

t.test('a route is named as the OpenAPI document names it; its parameters are encoded into the path', async (t) => {
  t.equal(adminPath('GET /v1/admin/connections'), '/v1/admin/connections')
  t.equal(adminPath('POST /v1/admin/connections/{name}/migration/complete', { name: 'a b/c' }), '/v1/admin/connections/a%20b%2Fc/migration/complete')
  const client = createAdminClient({ baseUrl: 'http://127.0.0.1:1', credentials: 'k' })
  t.teardown(() => client.close())
  if (process.env.NEVER_SET_ONLY_TYPE_CHECKED) {
    // @ts-expect-error a route the broker does not have
    await client.request('GET /v1/admin/connection')
    // @ts-expect-error a route with a path parameter needs it
    await client.request('GET /v1/admin/connections/{name}')
    // @ts-expect-error and needs it by its name
    await client.request('GET /v1/admin/connections/{name}', { params: { connection: 'acme' } })
  }
})

t.test('answers come back as the broker sent them, refusals as BrokerError with the problem document', async (t) => {
  const broker = await startBroker(t, { acme: {}, billing: {} })
  const admin = createAdminClient({ baseUrl: broker.baseUrl, credentials: broker.principals.adminKey })
  t.teardown(() => admin.close())

  const listed: AdminAnswer<{ connections: Array<{ name: string }> }> = await admin.request('GET /v1/admin/connections')
  t.equal(listed.status, 200)
  t.same(listed.body.connections.map(c => c.name).sort(), ['acme', 'billing'])
  t.same(JSON.parse(listed.text), listed.body, 'the text is the body as sent')

  const shown: AdminAnswer<{ name: string, version: number }> = await admin.request('GET /v1/admin/connections/{name}', { params: { name: 'billing' } })
  t.match(shown.body, { name: 'billing', version: 1 })
  t.equal(shown.etag, '"1"', 'the version as an entity tag')

  const filtered: AdminAnswer<{ connections: Array<{ connection: string }> }> = await admin.request('GET /health/salesforce', { query: { connection: 'acme', ignored: undefined }, answers: [503] })
  t.same(filtered.body.connections.map(c => c.connection), ['acme'], 'query parameters, undefined ones left out')

  const stale = await failure(admin.request('PATCH /v1/admin/connections/{name}/credentials', { params: { name: 'acme' }, body: { clientId: 'other' }, ifMatch: 7 }))
  t.ok(stale instanceof BrokerError)
  t.match(stale, { status: 409, code: 'conflict', connection: 'acme' }, 'If-Match names the version the change is based on')
  t.match(stale.problem, { status: 409, code: 'conflict' }, 'the problem document as sent')

  const viewer = createAdminClient({ baseUrl: broker.baseUrl, credentials: broker.principals.viewerKey! })
  t.teardown(() => viewer.close())
  const refused = await failure(viewer.request('DELETE /v1/admin/connections/{name}', { params: { name: 'acme' } }))
  t.match(refused, { status: 403, code: 'forbidden' })
  t.equal(refused.problem?.requiredRole, 'admin', 'members the error\'s fields do not name are in problem')

  const missing = await failure(admin.request('GET /v1/admin/connections/{name}', { params: { name: 'ghost' } }))
  t.match(missing, { status: 404, code: 'not_found', connection: 'ghost' })
})

t.test('answers: a listed status is a result, unless it is a problem', async (t) => {
  const report = { status: 'failing', connections: [{ connection: 'acme', status: 'failing' }] }
  let problem = false
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(503, { 'content-type': problem ? 'application/problem+json' : 'application/json' })
    res.end(JSON.stringify(problem ? { type: 'urn:sf-broker:problem:secret_store_unavailable', code: 'secret_store_unavailable', status: 503, title: 'Secret store unavailable' } : report))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const admin = createAdminClient({ baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, credentials: 'k' })
  t.teardown(() => admin.close())
  t.match(await admin.request('GET /health/salesforce', { answers: [503] }), { status: 503, body: report })
  t.match(await failure(admin.request('GET /health/salesforce')), { status: 503, code: 'http_503', problem: report }, 'not listed: an error, the body still readable')
  problem = true
  t.match(await failure(admin.request('GET /health/salesforce', { answers: [503] })), { status: 503, code: 'secret_store_unavailable' })
})

t.test('no broker: broker_unreachable, like every other client call', async (t) => {
  const admin = createAdminClient({ baseUrl: 'http://127.0.0.1:1', credentials: 'k' })
  t.teardown(() => admin.close())
  t.match(await failure(admin.request('GET /v1/admin/audit')), { status: 0, code: 'broker_unreachable', retryable: true })
  admin.close()
  t.match(await failure(admin.request('GET /v1/admin/audit')), { code: 'client_closed' })
  t.throws(() => createAdminClient({ baseUrl: 'sf-broker:3000', credentials: 'k' }), { code: 'invalid_options' })
})
