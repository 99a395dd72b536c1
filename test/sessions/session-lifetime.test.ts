import t from 'tap'
import { callerExpiry, needsRefresh, toCachedSession } from '../../src/sessions/session-lifetime.ts'
import type { SalesforceSession } from '../../src/salesforce/types.ts'

const policy = { safetyMarginMs: 120_000, maxTtlMs: 900_000 }
const session = (issuedAt: number, sessionSecondsValid?: number): SalesforceSession =>
  ({ accessToken: 'x', instanceUrl: 'https://a.my.salesforce.com', userId: '005', orgId: '00D', issuedAt, flow: 'jwt_bearer', sessionSecondsValid })

t.test('the session ends at the org timeout; handing out stops a margin before', async (t) => {
  const e = toCachedSession(session(0), 1, { sessionTimeoutSeconds: 7200, apiVersion: '62.0' }, policy)
  t.equal(e.realEnd, 7_200_000)
  t.equal(e.validUntil, 7_200_000 - 120_000)
  t.equal(e.apiVersion, '62.0')
})

t.test('SOAP sessionSecondsValid shorter than the configured timeout wins', async (t) => {
  const e = toCachedSession(session(0, 1800), 1, { sessionTimeoutSeconds: 7200, apiVersion: '62.0' }, policy)
  t.equal(e.realEnd, 1_800_000)
})

t.test('a margin longer than the lifetime is cut to half the lifetime', async (t) => {
  const e = toCachedSession(session(0), 1, { sessionTimeoutSeconds: 60, apiVersion: '62.0' }, policy)
  t.equal(e.validUntil, 30_000)
})

t.test('callers get at most maxTtl, never past validUntil', async (t) => {
  const e = toCachedSession(session(0), 1, { sessionTimeoutSeconds: 7200, apiVersion: '62.0' }, policy)
  t.equal(callerExpiry(e, policy, 0), 900_000)
  t.equal(callerExpiry(e, policy, 7_000_000), e.validUntil)
})

t.test('refresh starts when less than maxTtl (or half the lifetime) remains', async (t) => {
  const e = toCachedSession(session(0), 1, { sessionTimeoutSeconds: 7200, apiVersion: '62.0' }, policy)
  t.notOk(needsRefresh(e, policy, 0))
  t.notOk(needsRefresh(e, policy, e.validUntil - 900_001))
  t.ok(needsRefresh(e, policy, e.validUntil - 899_999))
})
