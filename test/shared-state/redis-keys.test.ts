import t from 'tap'
import { RedisKeys } from '../../src/shared-state/redis-keys.ts'

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
    keys.lease('login:acme'), keys.lease('validate:acme'), keys.lease('health-check:acme'),
    keys.doc('holdoff:acme'), keys.doc('health:acme'),
  ]
  t.same([...new Set(ofAcme.map(hashTag))], ['acme'], ofAcme.join(' '))
  t.equal(new Set(ofAcme).size, ofAcme.length, 'all distinct')
  t.ok(ofAcme.every(k => k.startsWith('sfb:')))
})

t.test('per-user keys carry the login identity, colons and all', async (t) => {
  const keys = new RedisKeys('sfb:')
  const identity = 'user:integration@acme.example'
  const ofUser = [keys.lease(`login-user:${identity}`), keys.doc(`login-guard:${identity}`), keys.doc(`login-hold:${identity}`), keys.window(`logins:${identity}`)]
  t.same([...new Set(ofUser.map(hashTag))], [identity])
  t.equal(keys.doc(`login-guard:${identity}`), 'sfb:{user:integration@acme.example}:doc:login-guard')
  t.equal(keys.lease('plain'), 'sfb:{plain}:lease', 'a name without a kind is its own tag')
})
