import t from 'tap'
import { CANDIDATE_MEMORY_MS, candidateRetryAt, guardDecision, mergeGuards, sameGuard, withFailure, withReset, type GuardState } from '../../src/sessions/login-guard.ts'
import { budgetDecision } from '../../src/sessions/login-budget.ts'
import { credentialHash, loginIdentity } from '../../src/sessions/login-identity.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'

const policy = { threshold: 3 }
const T0 = 1_700_000_000_000
const HOUR = 3_600_000

t.test('the guard stops one failure short of Salesforce\'s threshold, and its count does not expire with time', async (t) => {
  let s = withFailure(null, T0)
  t.match(guardDecision(s, policy), { blocked: false, failures: 1, room: 1 })
  s = withFailure(s, T0 + 60_000)
  t.match(guardDecision(s, policy), { blocked: true, failures: 2, threshold: 3 })
  t.notOk('safeAt' in guardDecision(s, policy), 'no time makes it safe again: Salesforce\'s counter has no window')
  t.match(guardDecision(s, policy), { blocked: true }, 'still blocked, whatever the clock says')
  t.match(guardDecision(withReset(s, T0 + 61_000), policy), { blocked: false, failures: 0 }, 'a success (or an admin\'s reset) resets the count')
  t.match(guardDecision(null, { threshold: 10 }), { blocked: false, room: 9 })
})

t.test('a failing candidate is remembered by hash for a day, even across a success', async (t) => {
  const s = withFailure(null, T0, 'abc')
  t.equal(candidateRetryAt(s, 'abc', T0 + 1), T0 + CANDIDATE_MEMORY_MS)
  t.equal(candidateRetryAt(s, 'other', T0 + 1), undefined)
  t.equal(candidateRetryAt(withReset(s, T0 + 5), 'abc', T0 + 6), T0 + CANDIDATE_MEMORY_MS)
  t.equal(candidateRetryAt(s, 'abc', T0 + CANDIDATE_MEMORY_MS), undefined)
})

t.test('two copies of a guard merge to the larger truth since the later reset', async (t) => {
  const fleet = withFailure(withReset(null, T0), T0 + 1)
  const replica = withFailure(withFailure(withReset(null, T0), T0 + 1), T0 + 3 * HOUR)
  t.same(mergeGuards(fleet, replica)?.failures, [T0 + 1, T0 + 3 * HOUR], 'a failure counted only in one replica\'s memory (Redis down) is kept')
  t.same(mergeGuards(null, replica)?.failures, replica.failures, 'Redis restarted empty: the replica\'s copy seeds it')
  const succeededLater = withReset(replica, T0 + 4 * HOUR)
  t.same(mergeGuards(fleet, succeededLater)?.failures, [], 'a later success wins over older failures')
  t.ok(sameGuard(mergeGuards(fleet, fleet), fleet))
})

t.test('a count taken from Salesforce stays marked so through a merge that adds nothing to it', async (t) => {
  // as GuardStore.reconcile writes it: Salesforce's failures stamped before the read, which resets the count
  const truth: GuardState = { ...withFailure(withFailure(withReset(null, T0 + 10), T0 + 8), T0 + 9), truthReadAt: T0 + 10 }
  const heard = mergeGuards(null, truth)
  t.ok(sameGuard(mergeGuards(truth, truth), truth), 'the same copy in Redis and in a replica\'s memory')
  t.equal(mergeGuards(heard, { ...truth, failures: [...truth.failures].reverse() })?.truthReadAt, T0 + 10, 'the same failures in another order')
  t.equal(mergeGuards(truth, withFailure(truth, T0 + 11))?.truthReadAt, undefined, 'a failure counted since: the count is the broker\'s again')
  t.equal(mergeGuards(truth, withReset(truth, T0 + 12))?.truthReadAt, undefined, 'a reset since: likewise')
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

t.test('two failures counted in one millisecond are two failures', async (t) => {
  const twice = withFailure(withFailure(null, T0), T0)
  t.same(twice.failures, [T0, T0 + 1])
  t.equal(withFailure(twice, T0, undefined, true).unanswered?.[0], T0 + 2, 'an unanswered one is marked by the stamp it got')
  t.same(mergeGuards(twice, twice)?.failures, [T0, T0 + 1], 'and a merge keeps both')
})
