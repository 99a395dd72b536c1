import t from 'tap'
import { bearer } from '../helper.ts'
import { http } from '../support/http.ts'
import { proxyRig } from './support.ts'

const QUERY = `/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`
const COMPOSITE = JSON.stringify({ compositeRequest: [{ method: 'GET', url: QUERY, referenceId: 'q' }] })

t.test('a session Salesforce ended is renewed once and the call sent again', async (t) => {
  const { sim, base, callers } = await proxyRig(t)
  const auth = bearer(callers.limitedKey)
  t.equal((await http(`${base}${QUERY}`, { headers: auth })).status, 200)
  t.equal(sim.stats('acme').attempts, 1)

  sim.expireSessions('acme')
  const healed = await http(`${base}${QUERY}`, { headers: auth })
  t.equal(healed.status, 200, 'the caller never sees the 401')
  t.equal(healed.json.done, true)
  t.equal(sim.stats('acme').attempts, 2, 'one new login')

  // sessions that keep dying are replaced at most once per interval (the session service's rationing) — the proxy says so
  sim.expireSessions('acme')
  const rationed = await http(`${base}${QUERY}`, { headers: auth })
  t.equal(rationed.status, 429)
  t.equal(rationed.json.code, 'session_renewal_throttled')
  t.equal(sim.stats('acme').attempts, 2)
})

t.test('a POST with a small body is sent again after the renewal too', async (t) => {
  const { sim, base, callers } = await proxyRig(t)
  const auth = bearer(callers.limitedKey)
  t.equal((await http(`${base}${QUERY}`, { headers: auth })).status, 200)
  sim.expireSessions('acme')
  const posted = await http(`${base}/services/data/v62.0/composite`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: COMPOSITE })
  t.equal(posted.status, 200, 'a POST is sent again too: a 401 means Salesforce did not process it')
  t.equal(posted.json.compositeResponse[0].httpStatusCode, 200)
  t.equal(sim.stats('acme').attempts, 2)
})

t.test('a streamed body that cannot be sent again: 503 session_renewed with Retry-After, and the next try works', async (t) => {
  const { sim, base, callers } = await proxyRig(t, { env: { PROXY_REPLAY_BUFFER_BYTES: '0' } })
  const auth = { ...bearer(callers.limitedKey), 'content-type': 'application/json' }
  // an sObject create (a composite body is always read whole: its sub-requests are checked)
  const post = () => http(`${base}/services/data/v62.0/sobjects/Account`, { method: 'POST', headers: auth, body: JSON.stringify({ Name: 'Streamed' }) })
  t.equal((await post()).status, 201)
  sim.expireSessions('acme')
  const refused = await post()
  t.equal(refused.status, 503)
  t.equal(refused.json.code, 'session_renewed')
  t.equal(refused.headers.get('retry-after'), '1')
  t.equal(sim.stats('acme').attempts, 2, 'the session is renewed already')
  const again = await post()
  t.equal(again.status, 201)
  t.equal(sim.stats('acme').attempts, 2, 'the retry needs no login')
})

t.test('Salesforce\'s refusals other than an ended session pass through as they came, without a login', async (t) => {
  const { sim, base, callers } = await proxyRig(t)
  const auth = bearer(callers.fullKey)
  t.equal((await http(`${base}/services/data/v62.0/limits`, { headers: auth })).status, 200)
  // the identity service answers a bad token with a bare 403, not a REST 401: here the org's API access is what fails
  sim.org('acme').apiEnabled = false
  const res = await http(`${base}/services/data/v62.0/limits`, { headers: auth })
  t.equal(res.status, 403)
  t.equal(res.json[0].errorCode, 'API_DISABLED_FOR_ORG', 'Salesforce\'s answer as it came')
  t.equal(sim.stats('acme').attempts, 1)
})
