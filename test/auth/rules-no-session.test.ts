import t from 'tap'
import { acmeDefinition, bearer, buildTestApp, startSim, tempFileStore } from '../helper.ts'
import { generateApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'

// A grant with rules limits the caller to what the rules allow. A session handed to that caller would
// allow everything the integration user may do: the rules would be a fence with the gate open.
t.test('a caller whose grant on a connection has rules gets no session for it, even without "sessions": false', async (t) => {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  await store.write('sandbox', acmeDefinition(sim), 0)
  const reader = generateApiKey('reader')
  const wide = generateApiKey('wide')
  const doc = {
    principals: [
      // sessions not set (a caller that takes sessions for its sandbox): the rules must still hold on acme
      { id: 'reader', kind: 'service', apiKeySha256: [reader.sha256], connections: ['sandbox', { connection: 'acme', rules: [{ api: 'query' }] }] },
      // rules on "*": every connection is limited
      { id: 'wide', kind: 'service', apiKeySha256: [wide.sha256], connections: [{ connection: '*', rules: [{ api: 'limits' }] }] },
    ],
  }
  const { app } = await buildTestApp(t, {
    secretStore: store,
    principals: { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: '', reportingKey: '', adminKey: '' },
  })
  const session = (name: string, key: string) => app.inject({ method: 'POST', url: `/v1/connections/${name}/session`, headers: bearer(key) })

  const limited = await session('acme', reader.key)
  t.equal(limited.statusCode, 403, 'no session on the connection the rules limit')
  t.equal(limited.json().code, 'proxy_only')
  t.notOk('accessToken' in limited.json())
  t.equal((await session('acme', wide.key)).statusCode, 403, 'nor under rules on "*"')
  t.equal((await session('sandbox', reader.key)).statusCode, 200, 'a plain grant still gets sessions')

  // the rules still apply to the caller's proxied calls
  const query = await app.inject({ url: `/v1/connections/acme/salesforce/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`, headers: bearer(reader.key) })
  t.equal(query.statusCode, 200, 'an allowed call passes the proxy')
  const remove = await app.inject({ method: 'DELETE', url: '/v1/connections/acme/salesforce/services/data/v62.0/sobjects/Account/001000000000001', headers: bearer(reader.key) })
  t.equal(remove.json().code, 'policy_denied', 'a call no rule allows is refused')
})
