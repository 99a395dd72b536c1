import t from 'tap'
import { generateApiKey, hashApiKey, verifyApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals, isGranted } from '../../src/auth/principals.ts'
import { ConfigError } from '../../src/config.ts'

t.test('a key verifies only for its principal', async (t) => {
  const a = generateApiKey('billing')
  const b = generateApiKey('ops')
  const dir = parsePrincipals({
    principals: [
      { id: 'billing', kind: 'service', apiKeySha256: [a.sha256], connections: ['acme'] },
      { id: 'ops', kind: 'admin', apiKeySha256: [b.sha256] },
    ]
  })
  t.equal(verifyApiKey(dir, a.key)?.id, 'billing')
  t.equal(verifyApiKey(dir, b.key)?.id, 'ops')
  t.equal(verifyApiKey(dir, a.key.replace('billing', 'ops')), null, 'a key presented under another id fails')
  t.equal(verifyApiKey(dir, a.key + 'x'), null)
  t.equal(verifyApiKey(dir, 'sfb.nobody.' + 'a'.repeat(32)), null)
  t.equal(verifyApiKey(dir, ''), null)
  t.equal(hashApiKey(a.key), a.sha256)
})

t.test('grants', async (t) => {
  const dir = parsePrincipals({
    principals: [
      { id: 'svc', kind: 'service', connections: ['acme'] },
      { id: 'all', kind: 'service', connections: ['*'] },
      { id: 'adm', kind: 'admin', connections: ['*'] },
    ]
  })
  t.ok(isGranted(dir.byId.get('svc')!, 'acme'))
  t.notOk(isGranted(dir.byId.get('svc')!, 'other'))
  t.ok(isGranted(dir.byId.get('all')!, 'other'))
  t.notOk(isGranted(dir.byId.get('adm')!, 'acme'), 'admins never get sessions')
})

t.test('a bad principals document is refused with its location', async (t) => {
  t.throws(() => parsePrincipals({ principals: [{ id: 'Bad Id', kind: 'service' }] }), ConfigError)
  t.throws(() => parsePrincipals({ principals: [{ id: 'a', kind: 'service' }, { id: 'a', kind: 'admin' }] }), /duplicate id/)
  t.throws(() => parsePrincipals({ principals: [{ id: 'a', kind: 'root' }] }), /principals\/0/)
})
