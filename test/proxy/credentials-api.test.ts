import t from 'tap'
import { gzipSync } from 'node:zlib'
import { acmeDefinition, acmeOrg, bearer, listenTestApp, startSim, tempFileStore } from '../helper.ts'
import { http } from '../support/http.ts'
import { proxyCallers } from './support.ts'

/**
 * The OAuth credentials API (Connect REST: /services/data/vXX.X/apps/oauth/credentials/…) lists,
 * stages and reveals the consumer key and secret of the broker's own External Client App. Through the
 * proxy a caller would mint a login of its own and need the broker no more: a proxy-only caller
 * would hold sessions after all, and one that rotated the secret would break the broker's logins.
 */

const APP_ID = 'acme_integration_eca'

async function rig (t: Parameters<typeof startSim>[0]) {
  // as the consumer-secret rotation runbook sets up: the connection's own user manages its app's credentials
  const org = acmeOrg()
  const sim = await startSim(t, [{ ...org, users: [{ ...org.users![0], permissions: { PermissionsExternalClientAppDeveloper: true, PermissionsViewClientSecret: true } }], connectedApps: [{ ...org.connectedApps![0], appId: APP_ID, consumerSecretsViaRestApi: true }] }])
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  // a proxy-only caller with a grant that has no rules: everything the integration user may do, bar this
  const callers = proxyCallers({ connections: ['acme'] })
  const { url } = await listenTestApp(t, { secretStore: store, principals: callers })
  return { sim, url, auth: bearer(callers.limitedKey) }
}

t.test('a proxy-only caller cannot reach its connection\'s OAuth credentials through the proxy, however the path is spelled', async (t) => {
  const { sim, url, auth } = await rig(t)
  const proxy = `${url}/v1/connections/acme/salesforce/services/data/v62.0`
  const requestsBefore = sim.org('acme').apiRequestsUsed
  const spellings = [
    `apps/oauth/credentials/${APP_ID}`,
    `Apps/OAuth/Credentials/${APP_ID}`,
    `%61pps/oauth/credentials/${APP_ID}`,
    `apps/%6Fauth/credentials/${APP_ID}/000000000000000AAA/staged`,
    'apps/oauth/usage',
    'apps/oauth',
  ]
  for (const path of spellings) {
    const refused = await http(`${proxy}/${path}`, { method: path.endsWith('staged') ? 'POST' : 'GET', headers: { ...auth, 'content-type': 'application/json' }, body: path.endsWith('staged') ? '{}' : undefined })
    t.equal(refused.status, 403, `${path}: refused`)
    t.equal(refused.json?.code, 'forbidden')
    t.notOk(refused.text.includes(APP_ID) || refused.text.includes('%6'), 'the refusal does not echo the path')
  }
  t.equal(sim.org('acme').apiRequestsUsed, requestsBefore, 'nothing reached Salesforce')
  const limits = await http(`${proxy}/limits`, { headers: auth })
  t.equal(limits.status, 200, 'the rest of the REST API still passes')
})

t.test('nor as a sub-request of a composite or batch call, however its url is escaped', async (t) => {
  const { sim, url, auth } = await rig(t)
  const proxy = `${url}/v1/connections/acme/salesforce/services/data/v62.0`
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    http(`${proxy}/${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...headers }, body })
  const requestsBefore = sim.org('acme').apiRequestsUsed
  const urls = [
    `/services/data/v62.0/apps/oauth/credentials/${APP_ID}`,
    `v62.0/\\u0061pps/oauth/credentials/${APP_ID}?part=keyandsecret`,
    `v62.0\\/apps\\/OAuth\\/credentials\\/${APP_ID}`,
    `v62.0/%2561pps/oauth/credentials/${APP_ID}`,
  ]
  for (const u of urls) {
    const batch = await post('composite/batch', `{"batchRequests":[{"method":"GET","url":"${u}"}]}`)
    t.equal(batch.status, 403, `composite/batch ${u}: refused`)
    t.equal(batch.json?.code, 'forbidden')
  }
  const composite = await post('composite', JSON.stringify({ compositeRequest: [{ method: 'GET', url: `/services/data/v62.0/apps/oauth/credentials/${APP_ID}`, referenceId: 'r' }] }))
  t.equal(composite.status, 403, 'composite: refused')
  const connectBatch = await post('connect/batch', JSON.stringify({ batchRequests: [{ method: 'Get', url: `/v62.0/apps/oauth/credentials/${APP_ID}` }] }))
  t.equal(connectBatch.status, 403, 'connect/batch: refused')
  const site = await http(`${proxy}/connect/communities/0DB000000000001/apps/oauth/credentials/${APP_ID}`, { headers: auth })
  t.equal(site.status, 403, 'under a site\'s prefix: refused')
  t.equal(sim.org('acme').apiRequestsUsed, requestsBefore, 'nothing reached Salesforce')

  // a composite body that does not say how long it is can't be checked before it goes: refused
  const chunked = await fetch(`${proxy}/composite/batch`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('{"batchRequests":[]}')); c.close() } }),
    duplex: 'half',
  } as RequestInit)
  t.equal(chunked.status, 413, 'a composite body without Content-Length: refused')

  const ordinary = await post('composite', JSON.stringify({ compositeRequest: [{ method: 'GET', url: '/services/data/v62.0/limits', referenceId: 'limits' }] }))
  t.equal(ordinary.status, 200, `an ordinary composite call passes (${ordinary.text.slice(0, 120)})`)
})

t.test('a sub-request body is checked as Salesforce would read it, or refused when it cannot be', async (t) => {
  const { sim, url, auth } = await rig(t)
  const proxy = `${url}/v1/connections/acme/salesforce/services/data`
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    http(`${proxy}/${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...headers }, body })
  const requestsBefore = sim.org('acme').apiRequestsUsed
  const batch = (u: string) => JSON.stringify({ batchRequests: [{ method: 'GET', url: u }] })
  // other spellings of the families that carry sub-requests
  // and with the .json/.xml format suffix Salesforce takes up to API version 57.0 (REST API Developer Guide, "REST API Architecture")
  for (const path of ['v62.0/connect/Batch', 'v62.0/CHATTER/batch/', 'V62.0/composite', 'v62/composite/batch', 'v62.0/tooling/composite/batch', 'v62.0/connect/communities/0DB000000000001/batch',
    'v57.0/composite.json', 'v57.0/composite/batch.json', 'v57.0/composite/Batch.XML', 'v57.0/connect/batch.json']) {
    t.equal((await post(path, batch(`v62.0/apps/oauth/credentials/${APP_ID}`))).status, 403, `${path}: refused`)
  }
  // urls a lenient server reads as the credentials API
  for (const u of [`v62.0/apps;x=1/oauth/credentials/${APP_ID}`, 'v62.0/apps//oauth', 'v62.0/apps/./oauth', 'v62.0/apps/x/../oauth', 'v62.0\\apps\\oauth', 'v62.0/%2561%2570ps/oauth']) {
    t.equal((await post('v62.0/composite/batch', batch(u))).status, 403, `${u}: refused`)
  }
  // bodies the check cannot read
  const compressed = await post('v62.0/composite/batch', gzipSync(batch(`v62.0/apps/oauth/credentials/${APP_ID}`)), { 'content-encoding': 'gzip' })
  t.equal(compressed.status, 415, 'a compressed body: refused')
  const xml = await post('v62.0/composite/batch', '<batch><batchRequests><url>v62.0/ap<![CDATA[ps/oa]]>uth</url></batchRequests></batch>', { 'content-type': 'application/xml' })
  t.equal(xml.status, 415, 'an XML body: refused')
  const utf16 = await post('v62.0/composite/batch', Buffer.from(batch(`v62.0/apps/oauth/credentials/${APP_ID}`), 'utf16le'))
  t.equal(utf16.status, 400, 'a body that is not UTF-8 JSON: refused')
  t.equal(utf16.json?.code, 'malformed_json')
  t.equal(sim.org('acme').apiRequestsUsed, requestsBefore, 'nothing reached Salesforce')
})

t.test('a sub-request body is read as Salesforce\'s Java might read it: every duplicate, every charset trick, any depth', async (t) => {
  const { sim, url, auth } = await rig(t)
  const composite = `${url}/v1/connections/acme/salesforce/services/data/v62.0/composite`
  const post = (body: string | Buffer, contentType = 'application/json') => http(composite, { method: 'POST', headers: { ...auth, 'content-type': contentType }, body })
  const requestsBefore = sim.org('acme').apiRequestsUsed
  const one = (u: string) => `{"compositeRequest":[{"method":"GET","referenceId":"r","url":${JSON.stringify(u)}}]}`
  for (const u of ['/services/data/v62.0/apps\u0000/oauth', '/services/data/v62.0/apps%01/oauth', '/services/data/v62.0/app\u017f/oauth', '/services/data/v62.0/apps/oauth?x=1', '/services/data/v62.0/%u0061pps/oauth']) {
    t.equal((await post(one(u))).status, 403, `${JSON.stringify(u)}: refused`)
  }
  const duplicate = '{"batchRequests":[{"method":"GET","url":"/services/data/v62.0/apps/oauth/credentials","url":"/services/data/v62.0/limits"}]}'
  t.equal((await post(duplicate)).status, 403, 'a key given twice: both values are checked')
  // 0x81 0x5C is one Shift_JIS character: a reader in that charset sees the url end at the quote
  const sjis = Buffer.concat([Buffer.from('{"compositeRequest":[{"method":"GET","referenceId":"r","url":"/services/data/v62.0/apps/oauth/credentials/X?x='), Buffer.from([0x81]), Buffer.from('\\"}]}/../../.."}]}')])
  t.equal((await post(sjis, 'application/json; charset=Shift_JIS')).status, 415, 'a charset other than UTF-8: refused')
  t.equal((await post(sjis)).status, 400, 'bytes that are not UTF-8: refused')
  t.equal(sim.org('acme').apiRequestsUsed, requestsBefore, 'nothing reached Salesforce')
  // no string in it to check: it goes to Salesforce, which judges it (the check itself never recurses)
  const deep = await post('['.repeat(100_000) + ']'.repeat(100_000))
  t.not(deep.status, 500, `a body nested 100,000 deep is checked without running out of stack (${deep.status})`)
})

t.test('nor a user\'s password: a caller can neither set nor reset the integration user\'s, nor read the one a reset makes', async (t) => {
  const { sim, url, auth } = await rig(t)
  const proxy = `${url}/v1/connections/acme/salesforce/services/data/v62.0`
  const userId = '005000000000001AAA'
  const requestsBefore = sim.org('acme').apiRequestsUsed
  for (const [method, path] of [['DELETE', `sobjects/User/${userId}/password`], ['POST', `sobjects/user/${userId}/PASSWORD`], ['GET', `sobjects/SelfServiceUser/${userId}/password/`]] as const) {
    const refused = await http(`${proxy}/${path}`, { method, headers: { ...auth, 'content-type': 'application/json' }, body: method === 'POST' ? '{"NewPassword":"chosen-by-the-caller-1"}' : undefined })
    t.equal(refused.status, 403, `${method} ${path}: refused`)
  }
  const composite = await http(`${proxy}/composite`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ compositeRequest: [{ method: 'DELETE', url: `/services/data/v62.0/sobjects/User/${userId}/password`, referenceId: 'r' }] }) })
  t.equal(composite.status, 403, 'as a composite sub-request: refused')
  // up to API version 57.0 Salesforce also takes the resource with a format suffix (REST API Developer Guide,
  // "REST API Architecture"): the caller picks the version
  for (const [method, path] of [['DELETE', `v57.0/sobjects/User/${userId}/password.json`], ['POST', `v57.0/sobjects/User/${userId}/password.xml`]] as const) {
    const refused = await http(`${proxy.replace('/v62.0', '')}/${path}`, { method, headers: { ...auth, 'content-type': 'application/json' }, body: method === 'POST' ? '{"NewPassword":"chosen-by-the-caller-1"}' : undefined })
    t.equal(refused.status, 403, `${method} ${path}: refused`)
  }
  const suffixed = await http(`${proxy}/composite`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ compositeRequest: [{ method: 'DELETE', url: `/services/data/v57.0/sobjects/User/${userId}/password.json`, referenceId: 'r' }] }) })
  t.equal(suffixed.status, 403, 'with the suffix, as a composite sub-request: refused')
  t.equal(sim.org('acme').apiRequestsUsed, requestsBefore, 'nothing reached Salesforce')
})
