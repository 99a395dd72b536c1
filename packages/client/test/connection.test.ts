import t from 'tap'
import { Connection } from 'jsforce'
import { BrokerError, createBrokerClient } from '../src/index.ts'
import { ACME } from '../../../test/helper.ts'
import { recordingFetch, startBroker } from './support.ts'

t.test('connection() is a working jsforce Connection on the broker session', async (t) => {
  const broker = await startBroker(t)
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())

  const conn = await client.connection('acme')
  t.ok(conn instanceof Connection)
  t.equal(conn.instanceUrl, broker.sim.myDomainUrl('acme'))
  t.equal(conn.version, '62.0', 'the connection\'s configured API version')
  const result = await conn.query<{ Id: string, Name: string }>('SELECT Id, Name FROM Account')
  t.ok(result.totalSize > 0)
  t.ok(result.records.every(r => typeof r.Id === 'string' && typeof r.Name === 'string'))

  const pinned = await client.connection('acme', { version: '60.0' })
  t.equal(pinned.version, '60.0')
  t.equal(pinned.accessToken, conn.accessToken, 'both from the one cached session')
  t.equal(broker.sim.stats('acme').attempts, 1)
})

t.test('after Salesforce expires the session, the same Connection recovers through the broker', async (t) => {
  const broker = await startBroker(t)
  const { fetch, calls } = recordingFetch()
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey, fetch })
  t.teardown(() => client.close())

  const conn = await client.connection('acme')
  const dead = conn.accessToken
  await conn.query('SELECT Id FROM Account')
  broker.sim.expireSessions('acme')

  // several calls hit the dead session at once: jsforce refreshes once for all of them
  const results = await Promise.all([
    conn.query('SELECT Id, Name FROM Account'),
    conn.query('SELECT Id FROM Contact'),
    conn.query('SELECT COUNT() FROM Account'),
  ])
  t.ok(results[0].totalSize > 0, 'the query succeeded without the caller seeing the expiry')
  t.not(conn.accessToken, dead, 'the connection now holds a new token')

  const reports = calls.filter(c => c.body.rejectedToken !== undefined)
  t.equal(reports.length, 1, 'exactly one rejectedToken sent to the broker')
  t.equal(reports[0].body.rejectedToken, dead, 'and it was the token that failed')
  t.equal(broker.sim.stats('acme').attempts, 2, 'one new login at Salesforce')

  const cached = await client.getSession('acme')
  t.equal(cached.accessToken, conn.accessToken, 'the client cache holds the replacement too')
  t.equal(calls.length, 2, 'served from memory')

  const fresh = await client.connection('acme')
  await fresh.query('SELECT Id FROM Account')
  t.equal(broker.sim.stats('acme').attempts, 2)
})

t.test('reportInvalid returns and caches the replacement; a stale report gets the newer session without a login', async (t) => {
  const broker = await startBroker(t)
  const { fetch, calls } = recordingFetch()
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey, fetch })
  t.teardown(() => client.close())

  const first = await client.getSession('acme')
  broker.sim.expireSessions('acme')
  const [a, b] = await Promise.all([client.reportInvalid('acme', first.accessToken), client.reportInvalid('acme', first.accessToken)])
  t.equal(a.accessToken, b.accessToken)
  t.not(a.accessToken, first.accessToken)
  t.equal(calls.length, 2, 'two reports of one token in one process: one request')
  t.equal((await client.getSession('acme')).accessToken, a.accessToken, 'the cache was replaced')
  t.equal(calls.length, 2)

  const stale = await client.reportInvalid('acme', first.accessToken)
  t.equal(stale.accessToken, a.accessToken, 'the broker hands back its newer session')
  t.equal(broker.sim.stats('acme').attempts, 2, 'without logging in again')
  await t.rejects(client.reportInvalid('acme', ''), { name: 'BrokerError', code: 'invalid_options' })
})

t.test('when the broker cannot replace the session, the jsforce call fails with the broker\'s reason', async (t) => {
  const broker = await startBroker(t)
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())

  const conn = await client.connection('acme')
  await conn.query('SELECT Id FROM Account')
  broker.sim.org('acme').connectedApps.get(ACME.clientId)!.clientSecret = 'rotated-in-salesforce-only'
  broker.sim.expireSessions('acme')
  const err = await conn.query('SELECT Id FROM Account').then(() => undefined, (e: unknown) => e)
  // jsforce wraps a refresh failure in a plain Error; the caller must still get the broker's reason, fields and all
  t.ok(err instanceof BrokerError, 'the BrokerError itself, not jsforce\'s wrapper')
  const e = err as BrokerError
  t.match(e.message, /Salesforce refused the stored credentials/)
  t.equal(e.status, 503)
  t.equal(e.code, 'salesforce_login_failed')
  t.equal(e.retryable, true, 'retryable exactly when Retry-After comes: after the circuit\'s cool-down')
  t.ok(Number(e.retryAfterSeconds) > 0)
  t.equal(e.classification, 'invalid_client')
  t.type(e.hint, 'string')
  t.equal(e.connection, 'acme')
  t.notMatch(e.message, ACME.clientSecret)
  t.equal(broker.sim.stats('acme').attempts, 2, 'one failed login, no loop')
})

t.test('a Salesforce that rejects every fresh session does not make jsforce loop forever: the broker rations the replacements', async (t) => {
  const broker = await startBroker(t)
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())

  const conn = await client.connection('acme')
  conn.on('refresh', () => broker.sim.expireSessions('acme'))
  broker.sim.expireSessions('acme')
  const err = await conn.query('SELECT Id FROM Account').then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'session_renewal_throttled', retryable: true })
  t.equal(broker.sim.stats('acme').attempts, 2, 'the first login and one replacement: the next one waits for REVOKED_SESSION_LOGIN_INTERVAL_SECONDS')
})

t.test('a Salesforce that rejects every fresh session does not make jsforce loop forever, even without the broker\'s floor', async (t) => {
  const broker = await startBroker(t, { acme: {} }, { env: { REVOKED_SESSION_LOGIN_INTERVAL_SECONDS: '0' } })
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())

  const conn = await client.connection('acme')
  // every session the broker hands over dies before jsforce can retry with it
  conn.on('refresh', () => broker.sim.expireSessions('acme'))
  broker.sim.expireSessions('acme')
  const err = await conn.query('SELECT Id FROM Account').then(() => undefined, (e: unknown) => e)
  t.match(err, { message: /rejected 3 fresh sessions .* giving up/ })
  t.equal(broker.sim.stats('acme').attempts, 4, 'the first login and three replacements, then it stopped')
})
