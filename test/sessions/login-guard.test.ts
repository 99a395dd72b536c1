import t from 'tap'
import { candidateRetryAt, guardDecision, withFailure, withSuccess } from '../../src/sessions/login-guard.ts'
import { budgetDecision } from '../../src/sessions/login-budget.ts'
import { credentialHash, loginIdentity } from '../../src/sessions/login-identity.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'

const policy = { threshold: 3, windowMs: 900_000 }
const T0 = 1_700_000_000_000

t.test('the guard stops one failure short of Salesforce\'s threshold, inside the window only', async (t) => {
  let s = withFailure(null, policy, undefined, T0)
  t.match(guardDecision(s, policy, T0), { blocked: false, failures: 1, room: 1 })
  s = withFailure(s, policy, undefined, T0 + 60_000)
  const d = guardDecision(s, policy, T0 + 60_000)
  t.match(d, { blocked: true, failures: 2, threshold: 3, safeAt: T0 + 900_000 }, 'safe once the older failure leaves the window')
  t.match(guardDecision(s, policy, T0 + 900_001), { blocked: false, failures: 1 }, 'the first failure aged out')
  t.match(guardDecision(withSuccess(s, policy, T0 + 61_000), policy, T0 + 61_000), { blocked: false, failures: 0 }, 'a success resets the count')
  t.match(guardDecision(null, { threshold: 10, windowMs: 1000 }, T0), { blocked: false, room: 9 })
})

t.test('a failing candidate is remembered by hash for the window, even across a success', async (t) => {
  const s = withFailure(null, policy, 'abc', T0)
  t.equal(candidateRetryAt(s, 'abc', policy, T0 + 1), T0 + 900_000)
  t.equal(candidateRetryAt(s, 'other', policy, T0 + 1), undefined)
  t.equal(candidateRetryAt(withSuccess(s, policy, T0 + 5), 'abc', policy, T0 + 6), T0 + 900_000)
  t.equal(candidateRetryAt(s, 'abc', policy, T0 + 900_000), undefined)
})

t.test('the budget keeps the last 20 % for session misses, admin actions and probes', async (t) => {
  t.match(budgetDecision(79, 100, 'refresh'), { allowed: true })
  t.match(budgetDecision(80, 100, 'refresh'), { allowed: false, reason: 'reserved' })
  t.match(budgetDecision(80, 100, 'scheduled'), { allowed: false, reason: 'reserved' })
  t.match(budgetDecision(80, 100, 'forced_check'), { allowed: false, reason: 'reserved' })
  for (const p of ['miss', 'admin', 'probe'] as const) t.match(budgetDecision(99, 100, p), { allowed: true })
  t.match(budgetDecision(100, 100, 'miss'), { allowed: false, reason: 'exhausted', used: 100, limit: 100 })
})

t.test('a login identity is the Salesforce user (or app on its My Domain), whatever host a candidate names', async (t) => {
  const base: ConnectionDefinition = { flow: 'soap', loginUrl: 'https://login.salesforce.com', username: 'Int@Acme.example', apiVersion: '62.0', sessionTimeoutSeconds: 7200, password: 'p' }
  t.equal(loginIdentity(base), loginIdentity({ ...base, loginUrl: 'https://evil.example', username: 'int@acme.example' }))
  t.not(loginIdentity(base), loginIdentity({ ...base, username: 'other@acme.example' }))
  const cc = { ...base, flow: 'client_credentials' as const, loginUrl: 'https://acme.my.salesforce.com', clientId: 'K' }
  t.equal(loginIdentity(cc), 'app:K@acme.my.salesforce.com')
  const key = Buffer.alloc(32, 1)
  t.equal(credentialHash(base, key), credentialHash({ ...base }, key))
  t.not(credentialHash(base, key), credentialHash({ ...base, password: 'q' }, key))
  t.not(credentialHash(base, key), credentialHash(base, Buffer.alloc(32, 2)), 'keyed')
  t.notOk(credentialHash(base, key).includes('p'.repeat(2)))
})
