import t from 'tap'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'
import * as names from '../../src/shared-state/state-names.ts'

/** The hash tag Redis Cluster hashes: the text between the first { and the first } after it. */
function hashTag (key: string): string {
  const open = key.indexOf('{')
  const close = key.indexOf('}', open + 1)
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key
}

t.test('every key of a connection carries the connection as its hash tag', async (t) => {
  const keys = new RedisKeys('sfb:')
  const ofAcme = [
    keys.session('acme', 3), keys.sessionIndex('acme'), keys.circuit('acme'),
    keys.lease(names.validateLease('acme', 1764870000000)), keys.lease(names.healthCheckLease('acme')),
    keys.lease(names.reloginFloorLease('acme')), keys.doc(names.transientHoldOffDoc('acme')), keys.doc(names.revokedDoc('acme')),
    keys.doc(names.healthDoc('acme')), keys.doc(names.orgIdentityDoc('acme')), keys.doc(names.apiUsageDoc('acme')),
    keys.doc(names.consumerRotationDoc('acme')), keys.doc(names.consumerRotationPolicyDoc('acme')),
    keys.doc(names.migrationIdDoc('acme')), keys.doc(names.migrationValidatedDoc('acme')),
  ]
  t.same([...new Set(ofAcme.map(hashTag))], ['acme'], ofAcme.join(' '))
  t.equal(new Set(ofAcme).size, ofAcme.length, 'all distinct')
  t.ok(ofAcme.every(k => k.startsWith('sfb:')))
})

t.test('a caller\'s quotas of one call share its slot (one script takes both)', async (t) => {
  const keys = new RedisKeys('sfb:')
  const minute = keys.quota(names.proxyCallsQuota('svc:billing', 'minute', 1764870000000))
  const day = keys.quota(names.proxyCallsQuota('svc:billing', 'day', 1764806400000))
  t.equal(minute, 'sfb:{svc:billing}:quota:proxy-calls-minute-1764870000000')
  t.equal(hashTag(day), hashTag(minute))
})

t.test('per-user keys carry the login identity, colons and all', async (t) => {
  const keys = new RedisKeys('sfb:')
  const identity = 'user:integration@acme.example'
  const ofUser = [
    keys.lease(names.loginUserLease(identity)), keys.doc(names.loginGuardDoc(identity)), keys.doc(names.loginGuardTruthDoc(identity)),
    keys.doc(names.loginGuardAskedDoc(identity)), keys.doc(names.salesforceUserDoc(identity)),
    keys.doc(names.loginRateHoldDoc(identity)), keys.window(names.loginBudgetWindow(identity)),
  ]
  t.same([...new Set(ofUser.map(hashTag))], [identity])
  t.equal(keys.doc(names.loginGuardDoc(identity)), 'sfb:{user:integration@acme.example}:doc:login-guard')
  t.equal(keys.doc(names.loginRateHoldDoc(identity)), 'sfb:{user:integration@acme.example}:doc:login-rate-hold')
  t.equal(keys.lease('plain'), 'sfb:{plain}:lease', 'a name without a kind is its own tag')
})
