import t from 'tap'
import { bearer } from '../helper.ts'
import { http } from '../support/http.ts'
import { proxyCallers, proxyRig } from './support.ts'

/** a clock fixed a second into a minute: the per-minute window cannot roll over during the test */
const inAMinute = (): number => {
  const now = Date.now()
  return now - (now % 60_000) + 1_000
}

t.test('a call the broker refuses itself (413 by Content-Length, never sent to Salesforce) does not use up the caller\'s cap', async (t) => {
  const callers = proxyCallers({ proxyCallsPerMinute: 1 })
  const at = inAMinute()
  const { base, sim } = await proxyRig(t, { callers, env: { PROXY_BODY_LIMIT_BYTES: '1024' }, overrides: { clock: () => at } })
  const auth = bearer(callers.limitedKey)
  const tooBig = await http(`${base}/services/data/v62.0/composite`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: 'x'.repeat(4096) })
  t.equal(tooBig.status, 413)
  t.equal(sim.org('acme').apiRequestsUsed, 0, 'nothing reached Salesforce')
  const next = await http(`${base}/services/data/v62.0/limits`, { headers: auth })
  t.equal(next.status, 200, 'the one call of the minute is still there')
  const over = await http(`${base}/services/data/v62.0/limits`, { headers: auth })
  t.equal(over.status, 429, 'and the cap still holds')
  t.match(over.json, { code: 'proxy_quota_exceeded' })
})

t.test('a call refused for want of a session (Salesforce down at login) does not use up the caller\'s cap', async (t) => {
  const callers = proxyCallers({ proxyCallsPerMinute: 1 })
  const at = inAMinute()
  const { base, sim } = await proxyRig(t, { callers, overrides: { clock: () => at } })
  const auth = bearer(callers.limitedKey)
  sim.setDown(true)
  const refused = await http(`${base}/services/data/v62.0/limits`, { headers: auth })
  t.equal(refused.status, 503, `no session: ${refused.text}`)
  // the next call may still meet the login gate's back-off (503 again): what matters is that the cap did not refuse it
  const next = await http(`${base}/services/data/v62.0/limits`, { headers: auth })
  t.not(next.status, 429, 'the one call of the minute is still there')
  t.notMatch(next.json, { code: 'proxy_quota_exceeded' })
})

t.test('a composite call refused for its sub-requests (never sent to Salesforce) does not use up the caller\'s cap', async (t) => {
  const callers = proxyCallers({ proxyCallsPerMinute: 1 })
  const at = inAMinute()
  const { base, sim } = await proxyRig(t, { callers, overrides: { clock: () => at } })
  const auth = { ...bearer(callers.limitedKey), 'content-type': 'application/json' }
  const refused = await http(`${base}/services/data/v62.0/composite`, { method: 'POST', headers: auth, body: JSON.stringify({ compositeRequest: [{ method: 'GET', url: '/services/data/v62.0/apps/oauth/credentials', referenceId: 'r' }] }) })
  t.equal(refused.status, 403)
  const unreadable = await http(`${base}/services/data/v62.0/composite`, { method: 'POST', headers: auth, body: '{"compositeRequest":' })
  t.equal(unreadable.status, 400)
  t.equal(sim.org('acme').apiRequestsUsed, 0, 'nothing reached Salesforce')
  const next = await http(`${base}/services/data/v62.0/limits`, { headers: auth })
  t.equal(next.status, 200, 'the one call of the minute is still there')
})
