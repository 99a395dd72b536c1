import t from 'tap'
import { apiUsage, chargeApiCall } from '../src/api-usage.ts'
import { call, startDataOrg } from './data-fixtures.ts'

t.test('every data answer carries Sforce-Limit-Info; past the allocation 403 REQUEST_LIMIT_EXCEEDED, nothing done', async t => {
  const org = await startDataOrg(t, { apiRequestLimit: 4 })
  const created = await call(org, '/sobjects/Account', { method: 'POST', body: JSON.stringify({ Name: 'One' }) })
  t.equal(created.headers.get('sforce-limit-info'), 'api-usage=1/4')
  t.equal((await call(org, '/sobjects/Account/describe')).headers.get('sforce-limit-info'), 'api-usage=2/4')
  t.equal((await call(org, '/jobs/ingest')).headers.get('sforce-limit-info'), 'api-usage=3/4')
  t.equal((await call(org, '/sobjects/Account/001000000000000AAA')).headers.get('sforce-limit-info'), 'api-usage=4/4', 'a 404 is a call too')
  const over = await call(org, '/sobjects/Account', { method: 'POST', body: JSON.stringify({ Name: 'Two' }) })
  t.equal(over.status, 403)
  t.same(over.json, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }])
  t.equal(over.headers.get('sforce-limit-info'), 'api-usage=4/4')
  t.equal(org.sim.org('acme').apiRequestsUsed, 4)
  org.sim.org('acme').apiRequestLimit = 10
  t.equal((await org.conn.query('SELECT Id FROM Account WHERE Name = \'Two\'')).totalSize, 0, 'the refused create did not happen')
})

t.test('the daily count is a rolling 24 hours: calls leave it a day later; a count set from outside is kept', async t => {
  const org = await startDataOrg(t, { apiRequestLimit: 3 })
  const state = org.sim.org('acme')
  const day = 24 * 3_600_000
  const start = Date.UTC(2026, 11, 4, 10, 30)
  t.ok(chargeApiCall(state, start))
  t.ok(chargeApiCall(state, start + 3_600_000))
  t.ok(chargeApiCall(state, start + 2 * 3_600_000))
  t.notOk(chargeApiCall(state, start + 3 * 3_600_000), 'used up')
  t.equal(apiUsage(state, start + day - 1), 3, 'still counted just under a day later')
  t.equal(apiUsage(state, start + day + 3_600_000), 2, 'the first call left the window')
  t.ok(chargeApiCall(state, start + day + 3_600_000))
  t.equal(state.apiRequestsUsed, 3)
  t.equal(apiUsage(state, start + 3 * day), 0)
  state.apiRequestsUsed = 2
  t.equal(apiUsage(state, start + 3 * day), 2, 'a value a test (or the control API) sets stays')
  t.notOk(chargeApiCall(state, start + 3 * day) && chargeApiCall(state, start + 3 * day))
})
