import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { BrokerError, createBrokerClient } from '../src/index.ts'
import { generateApiKey } from '../../../src/auth/api-key.ts'
import { parsePrincipals } from '../../../src/auth/principals.ts'
import { testPrincipals } from '../../../test/support/principals.ts'
import { recordingFetch, startBroker } from './support.ts'

t.test('getSession returns a typed session and serves the second call from memory', async (t) => {
  const broker = await startBroker(t)
  const { fetch, calls } = recordingFetch()
  const client = createBrokerClient({ baseUrl: broker.baseUrl + '/', credentials: broker.principals.billingKey, fetch })
  t.teardown(() => client.close())

  const session = await client.getSession('acme')
  t.equal(session.connection, 'acme')
  t.equal(session.instanceUrl, broker.sim.myDomainUrl('acme'))
  t.equal(session.flow, 'client_credentials')
  t.equal(session.apiVersion, '62.0')
  t.match(session.orgId, /^00D/)
  t.match(session.userId, /^005/)
  t.ok(session.issuedAt instanceof Date && session.expiresAt instanceof Date)
  t.ok(session.expiresAt.getTime() > Date.now() + 60_000)
  t.notOk('tokenType' in session, 'always Bearer, so not repeated')

  const again = await client.getSession('acme')
  t.equal(again.accessToken, session.accessToken)
  t.equal(calls.length, 1, 'the second call made no HTTP request')
  t.equal(broker.sim.stats('acme').attempts, 1, 'one login at Salesforce')
  t.same(calls[0].body, {}, 'a plain request reports no token')
  t.equal(calls[0].url, `${broker.baseUrl}/v1/connections/acme/session`, 'a trailing slash on baseUrl is harmless')

  const forced = await client.getSession('acme', { forceRefresh: true })
  t.equal(calls.length, 2, 'forceRefresh skips the memory cache')
  t.equal(forced.accessToken, session.accessToken, 'the broker still answers from its own cache')
  t.equal(broker.sim.stats('acme').attempts, 1)
})

t.test('concurrent calls for one connection share one request; other connections get their own', async (t) => {
  const broker = await startBroker(t, { acme: {}, 'acme-2': {} }, { principals: testPrincipals(['acme', 'acme-2']) })
  const { fetch, calls } = recordingFetch()
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey, fetch })
  t.teardown(() => client.close())

  broker.sim.setLatency(200)
  const [acme, other] = await Promise.all([
    Promise.all(Array.from({ length: 25 }, () => client.getSession('acme'))),
    Promise.all(Array.from({ length: 5 }, () => client.getSession('acme-2'))),
  ])
  t.equal(new Set(acme.map(s => s.accessToken)).size, 1)
  t.equal(new Set(other.map(s => s.accessToken)).size, 1)
  t.not(acme[0].accessToken, other[0].accessToken)
  t.equal(calls.filter(c => c.url.endsWith('/acme/session')).length, 1, 'twenty-five callers, one request')
  t.equal(calls.filter(c => c.url.endsWith('/acme-2/session')).length, 1)
  t.equal(broker.sim.stats('acme').attempts, 2, 'one login per connection')
})

t.test('near expiry the session is renewed; a broker outage in the margin keeps the still-valid one', async (t) => {
  // the broker hands out sessions for at most 30 s; renewing 28.5 s early leaves 1.5 s of memory caching
  const broker = await startBroker(t, { acme: {} }, { env: { SESSION_MAX_TTL_SECONDS: '30' } })
  const { fetch, calls } = recordingFetch()
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey, fetch, refreshMarginMs: 28_500 })
  t.teardown(() => client.close())

  const first = await client.getSession('acme')
  t.ok(first.expiresAt.getTime() <= Date.now() + 30_000)
  await client.getSession('acme')
  t.equal(calls.length, 1, 'still fresh: from memory')

  await sleep(first.expiresAt.getTime() - 28_500 - Date.now() + 100)
  const renewed = await client.getSession('acme')
  t.equal(calls.length, 2, 'inside the margin: asked the broker again')
  t.ok(renewed.expiresAt.getTime() > first.expiresAt.getTime(), 'with a later expiry')
  t.equal(broker.sim.stats('acme').attempts, 1, 'the broker answered from its cache')

  await broker.close()
  await sleep(renewed.expiresAt.getTime() - 28_500 - Date.now() + 100)
  const duringOutage = await client.getSession('acme')
  t.equal(calls.length, 3, 'tried to renew')
  t.equal(duringOutage.accessToken, renewed.accessToken, 'served the cached session, which has not expired yet')

  const forced = await client.getSession('acme', { forceRefresh: true }).catch((e: unknown) => e)
  t.ok(forced instanceof BrokerError)
  t.match(forced, { status: 0, code: 'broker_unreachable', type: 'urn:sf-broker:client:broker_unreachable', retryable: true })
})

t.test('a credentials function is called for every request, so rotated tokens are picked up', async (t) => {
  const oldKey = generateApiKey('billing')
  const newKey = generateApiKey('billing')
  const doc = { principals: [{ id: 'billing', kind: 'service', apiKeySha256: [oldKey.sha256, newKey.sha256], connections: ['acme'] }] }
  const broker = await startBroker(t, { acme: {} }, {
    principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: oldKey.key, reportingKey: '', adminKey: '' },
  })
  const { fetch, calls } = recordingFetch()
  let current = oldKey.key
  let reads = 0
  const client = createBrokerClient({
    baseUrl: broker.baseUrl,
    fetch,
    credentials: async () => { reads++; return current },
  })
  t.teardown(() => client.close())

  await client.getSession('acme')
  await client.getSession('acme')
  t.equal(reads, 1, 'a cache hit needs no credential')
  current = newKey.key
  await client.getSession('acme', { forceRefresh: true })
  t.equal(reads, 2)
  t.same(calls.map(c => c.authorization), [`Bearer ${oldKey.key}`, `Bearer ${newKey.key}`], 'the rotated token was sent')

  current = 'sfb.billing.revoked-and-unknown'
  const err = await client.getSession('acme', { forceRefresh: true }).catch((e: unknown) => e)
  t.match(err, { status: 401, code: 'unauthenticated' })
  t.notMatch(String((err as Error).message), current, 'the credential is not echoed')
})

t.test('close aborts requests in flight and fails later calls', async (t) => {
  const broker = await startBroker(t)
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  broker.sim.setLatency(1000)
  const inFlight = client.getSession('acme').catch((e: unknown) => e)
  await sleep(100)
  client.close()
  t.match(await inFlight, { name: 'BrokerError', code: 'client_closed', status: 0 })
  const later = await client.getSession('acme').catch((e: unknown) => e)
  t.match(later, { name: 'BrokerError', code: 'client_closed', status: 0 })
})

t.test('a request the broker does not answer in time fails with code timeout', async (t) => {
  const broker = await startBroker(t)
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey, timeoutMs: 200 })
  t.teardown(() => client.close())
  broker.sim.setLatency(1000)
  const err = await client.getSession('acme').catch((e: unknown) => e)
  t.match(err, { name: 'BrokerError', code: 'timeout', status: 0, retryable: true })
})
