import t from 'tap'
import { Connection } from 'jsforce'
import { inspect } from 'node:util'
import { BrokerError, createBrokerClient } from '../src/index.ts'
import { proxyCallers, proxyRig } from '../../../test/proxy/support.ts'

t.test('proxyConnection(): existing jsforce code runs through the proxy without a Salesforce token', async (t) => {
  const { sim, url, callers } = await proxyRig(t)
  const client = createBrokerClient({ baseUrl: url, credentials: callers.limitedKey })
  t.teardown(() => client.close())
  const conn = await client.proxyConnection('acme', { version: '62.0' })
  t.ok(conn instanceof Connection)
  t.equal(conn.accessToken, callers.limitedKey, 'the caller\'s own credential, not a session')
  t.equal(conn.instanceUrl, `${url}/v1/connections/acme/salesforce`)

  const result = await conn.query<{ Id: string, Name: string }>('SELECT Id, Name FROM Account')
  t.ok(result.totalSize > 0)
  t.ok(result.records.every(r => typeof r.Id === 'string'))

  const limits = await conn.limits()
  t.ok(limits.DailyApiRequests.Max > 0)
  t.equal(conn.limitInfo?.apiUsage?.used, sim.org('acme').apiRequestsUsed, 'Sforce-Limit-Info reaches jsforce')

  const composite = await conn.requestPost<{ compositeResponse: Array<{ httpStatusCode: number }> }>('/services/data/v62.0/composite', {
    compositeRequest: [{ method: 'GET', url: `/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`, referenceId: 'q' }],
  })
  t.equal(composite.compositeResponse[0].httpStatusCode, 200)

  // the grant's rules hold for jsforce too: the refusal is an error naming the rule
  const refused = await conn.sobject('Contact').retrieve('003000000000001AAA').then(() => null, (err: Error & { errorCode?: string }) => err)
  t.ok(refused, 'refused')
  t.match(refused?.message, /No rule of this caller's grant allows this Salesforce call|policy_denied/)
  t.equal(sim.stats('acme').attempts, 1, 'one login for all of it')

  sim.expireSessions('acme')
  const healed = await conn.query('SELECT Id FROM Account')
  t.ok(healed.totalSize > 0, 'the broker renewed the session; jsforce saw nothing')
  t.equal(sim.stats('acme').attempts, 2)
})

t.test('proxyConnection() with a credential that rotates: a refused one is read again', async (t) => {
  const { url, callers } = await proxyRig(t)
  let current = 'sfb.limited.expired-credential'
  const client = createBrokerClient({ baseUrl: url, credentials: () => current })
  t.teardown(() => client.close())
  const conn = await client.proxyConnection('acme', { version: '62.0' })
  current = callers.limitedKey
  const result = await conn.query('SELECT Id FROM Account')
  t.ok(result.totalSize > 0)
  t.equal(conn.accessToken, callers.limitedKey)
})

t.test('jsforce sObject CRUD, describe, composite and a Bulk API 2.0 ingest job through the proxy, within the grant', async (t) => {
  const callers = proxyCallers()
  const { sim, url } = await proxyRig(t, { callers })
  const client = createBrokerClient({ baseUrl: url, credentials: callers.limitedKey })
  t.teardown(() => client.close())
  const conn = await client.proxyConnection('acme', { version: '62.0' })

  const created = await conn.sobject('Account').create({ Name: 'Through the proxy' })
  t.ok(created.success && created.id, 'create')
  const read = await conn.sobject('Account').retrieve(created.id as string) as { Name: string }
  t.equal(read.Name, 'Through the proxy', 'retrieve')
  const updated = await conn.sobject('Account').update({ Id: created.id as string, Name: 'Renamed' })
  t.ok(updated.success, 'update')
  const described = await conn.sobject('Account').describe()
  t.equal(described.name, 'Account', 'describe')
  const found = await conn.query<{ Name: string }>(`SELECT Name FROM Account WHERE Id = '${created.id as string}'`)
  t.equal(found.records[0]?.Name, 'Renamed', 'the update reached the simulator')
  const refused = await conn.sobject('Account').destroy(created.id as string).then(() => null, (err: Error) => err)
  t.match(refused?.message, /No rule of this caller's grant allows/, 'DELETE is not in the grant')
  const still = await conn.query(`SELECT Id FROM Account WHERE Id = '${created.id as string}'`)
  t.equal(still.totalSize, 1, 'the refused delete never reached Salesforce')

  const full = await createBrokerClient({ baseUrl: url, credentials: callers.fullKey }).proxyConnection('acme', { version: '62.0' })
  const job = full.bulk2.createJob({ object: 'Account', operation: 'insert' })
  await job.open()
  await job.uploadData('Name\nBulk One\nBulk Two\nBulk Three\n')
  await job.close()
  await job.poll(50, 10_000)
  const results = await job.getAllResults()
  t.equal(results.successfulResults.length, 3, 'Bulk API 2.0 ingest through the proxy')
  const bulkDenied = await conn.bulk2.createJob({ object: 'Account', operation: 'insert' }).open().then(() => null, (err: Error) => err)
  t.ok(bulkDenied, 'the limited caller has no jobs/ingest rule')
  t.equal(sim.stats('acme').attempts, 1, 'one login for everyone')
})

t.test('proxyConnection(): a credentials function that fails, or a credential a header cannot carry, is a BrokerError credentials_unavailable', async (t) => {
  const failing = createBrokerClient({ baseUrl: 'http://127.0.0.1:1', credentials: () => { throw Object.assign(new Error('ENOENT: no such file or directory, open \'/var/run/secrets/tokens/sf-broker\''), { code: 'ENOENT' }) } })
  t.teardown(() => failing.close())
  const unreadable = await failing.proxyConnection('acme').then(() => null, (err: unknown) => err)
  t.ok(unreadable instanceof BrokerError, 'a BrokerError, as getSession() gives for the same function')
  t.match(unreadable, { code: 'credentials_unavailable', status: 0, connection: 'acme' })

  const twoLines = createBrokerClient({ baseUrl: 'http://127.0.0.1:1', credentials: () => 'sfb.limited.current-key-secret\nsfb.limited.previous-key-secret' })
  t.teardown(() => twoLines.close())
  const garbled = await twoLines.proxyConnection('acme').then(() => null, (err: unknown) => err)
  t.match(garbled, { code: 'credentials_unavailable' }, 'refused before jsforce ever holds it')
  t.notMatch(inspect(garbled, { depth: 10 }), 'key-secret', 'and not quoted')
})
