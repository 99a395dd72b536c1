import t from 'tap'
import { bearer } from '../helper.ts'
import { http } from '../support/http.ts'
import { proxyRig } from './support.ts'

const SOQL = encodeURIComponent('SELECT Id, Name FROM Account')

t.test('a proxy-only caller queries Salesforce through the broker without holding a token', async (t) => {
  const { sim, base, callers, url } = await proxyRig(t)
  const res = await http(`${base}/services/data/v62.0/query?q=${SOQL}`, { headers: bearer(callers.limitedKey) })
  t.equal(res.status, 200, res.text)
  t.equal(res.json.done, true)
  t.match(res.headers.get('sforce-limit-info'), /^api-usage=\d+\/\d+/)
  t.equal(sim.org('acme').apiRequestsUsed, 1, 'the query reached the simulator once')
  t.equal(sim.stats('acme').attempts, 1, 'one login')
  t.notOk(res.text.includes('00D'), 'no session id in the answer') // tokens of the simulator start with the org id

  const session = await http(`${url}/v1/connections/acme/session`, { method: 'POST', headers: bearer(callers.limitedKey) })
  t.equal(session.status, 403)
  t.equal(session.json.code, 'proxy_only')
  t.notOk('accessToken' in (session.json ?? {}))

  const again = await http(`${base}/services/data/v62.0/limits`, { headers: bearer(callers.limitedKey) })
  t.equal(again.status, 200)
  t.equal(sim.stats('acme').attempts, 1, 'the cached session serves the next call')
})

t.test('policy: allowed and refused calls, asserted at the simulator', async (t) => {
  const { sim, base, callers } = await proxyRig(t)
  const used = () => sim.org('acme').apiRequestsUsed
  const call = (method: string, path: string, key = callers.limitedKey, body?: string) =>
    http(`${base}${path}`, { method, headers: { ...bearer(key), ...(body ? { 'content-type': 'application/json' } : {}) }, body })

  const denied = await call('DELETE', '/services/data/v62.0/sobjects/Account/001000000000001')
  t.equal(denied.status, 403)
  t.equal(denied.json.code, 'policy_denied')
  t.same(denied.json.requiredRule, { api: 'sobjects', methods: ['DELETE'], objects: ['Account'] }, 'names the rule that would allow it')
  t.match(denied.headers.get('content-type'), /^application\/problem\+json/)

  const otherObject = await call('GET', '/services/data/v62.0/sobjects/Contact/describe')
  t.equal(otherObject.status, 403)
  t.same(otherObject.json.requiredRule, { api: 'sobjects', methods: ['GET'], objects: ['Contact'] })

  const tooling = await call('GET', `/services/data/v62.0/tooling/query?q=${SOQL}`)
  t.equal(tooling.status, 403)
  t.same(tooling.json.requiredRule, { api: 'tooling', methods: ['GET'] })
  t.equal(used(), 0, 'no refused call reached Salesforce')

  // Salesforce's method override ("send a POST request and provide an override to the HTTP method via the
  // query string parameter _HttpMethod", REST API Developer Guide, Update a Record): the policy sees that method
  for (const query of ['?_HttpMethod=DELETE', '?_httpmethod=delete', '?%5FHttpMethod=DELETE', '?x=1&_HttpMethod=DELETE']) {
    const overridden = await call('POST', `/services/data/v62.0/sobjects/Account/001000000000001${query}`)
    t.equal(overridden.status, 403, `POST …${query}`)
    t.same(overridden.json.requiredRule, { api: 'sobjects', methods: ['DELETE'], objects: ['Account'] })
  }
  const twice = await call('POST', '/services/data/v62.0/sobjects/Account/001000000000001?_HttpMethod=PATCH&_HttpMethod=DELETE')
  t.equal(twice.status, 400, 'two overrides: which one Salesforce takes is not the broker\'s guess')
  t.equal(used(), 0, 'no refused call reached Salesforce')

  const allowed = await call('GET', `/services/data/v62.0/queryAll?q=${SOQL}`)
  t.equal(allowed.status, 403, 'queryAll is a capability of its own')
  const query = await call('GET', `/services/data/v62.0/query?q=${SOQL}`)
  t.equal(query.status, 200)
  const composite = await call('POST', '/services/data/v62.0/composite', callers.limitedKey, JSON.stringify({
    compositeRequest: [{ method: 'GET', url: `/services/data/v62.0/query?q=${SOQL}`, referenceId: 'q' }],
  }))
  t.equal(composite.status, 200, composite.text)
  t.equal(composite.json.compositeResponse[0].httpStatusCode, 200)
  t.equal(used(), 2, 'the allowed calls reached Salesforce')

  const full = await call('GET', `/services/data/v62.0/queryAll?q=${SOQL}`, callers.fullKey)
  t.equal(full.status, 200, 'a grant without rules allows every call')

  const noGrant = await call('GET', `/services/data/v62.0/query?q=${SOQL}`, callers.reportingKey)
  t.equal(noGrant.status, 403)
  t.equal(noGrant.json.code, 'forbidden')
  const admin = await call('GET', `/services/data/v62.0/query?q=${SOQL}`, callers.adminKey)
  t.equal(admin.status, 403)
  const nobody = await http(`${base}/services/data/v62.0/limits`)
  t.equal(nobody.status, 401)
  t.equal(used(), 3)
})
