import t from 'tap'
import { bearer, buildTestApp, tempFileStore } from '../helper.ts'
import { DEMO_PROXY_KEY, startDemo } from '../../scripts/demo.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'

t.test('the demo seeds a proxy-only caller: it queries through the proxy and gets no session', async (t) => {
  const demo = await startDemo({ PORT: '0' })
  t.teardown(() => demo.close())
  const store = await tempFileStore(t)
  await demo.seed(store)
  const json = demo.env.PRINCIPALS_JSON as string
  const { app } = await buildTestApp(t, { secretStore: store, principals: { directory: parsePrincipals(JSON.parse(json)), json, billingKey: '', reportingKey: '', adminKey: '' } })
  const banner = demo.banner({ address: '127.0.0.1', port: 3000, family: 'IPv4' })
  t.match(banner, /proxy-only caller "invoicing"/)

  const query = await app.inject({ url: '/v1/connections/demo/salesforce/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account', headers: bearer(DEMO_PROXY_KEY) })
  t.equal(query.statusCode, 200, query.body)
  t.ok(query.json().totalSize > 0)
  const session = await app.inject({ method: 'POST', url: '/v1/connections/demo/session', headers: bearer(DEMO_PROXY_KEY) })
  t.equal(session.statusCode, 403)
  t.equal(session.json().code, 'proxy_only')
  const other = await app.inject({ url: '/v1/connections/demo/salesforce/services/data/v62.0/sobjects/Contact/describe', headers: bearer(DEMO_PROXY_KEY) })
  t.equal(other.json().code, 'policy_denied')
})
