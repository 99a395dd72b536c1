import t from 'tap'
import { randomBytes } from 'node:crypto'
import { SessionSealer } from '../../src/shared-state/session-crypto.ts'

t.test('sealed sessions open only with the same key and AAD', async (t) => {
  const sealer = new SessionSealer(randomBytes(32))
  const sealed = sealer.seal('{"accessToken":"00Dxx!secret"}', 'sfb:session:{acme}:v1')
  t.notMatch(sealed, 'secret')
  t.equal(sealer.open(sealed, 'sfb:session:{acme}:v1'), '{"accessToken":"00Dxx!secret"}')
  t.equal(sealer.open(sealed, 'sfb:session:{other}:v1'), null, 'copied under another key')
  t.equal(new SessionSealer(randomBytes(32)).open(sealed, 'sfb:session:{acme}:v1'), null, 'other key')
  const parts = sealed.split('.')
  parts[3] = Buffer.from('tampered').toString('base64')
  t.equal(sealer.open(parts.join('.'), 'sfb:session:{acme}:v1'), null, 'tampered')
  t.equal(sealer.open('garbage', 'x'), null)
  t.throws(() => new SessionSealer(randomBytes(16)))
  // a tag cut short: GCM told nothing checks a 4-byte prefix, a forgery in 2^32 guesses
  const short = sealed.split('.')
  short[2] = Buffer.from(short[2], 'base64').subarray(0, 4).toString('base64')
  t.equal(sealer.open(short.join('.'), 'sfb:session:{acme}:v1'), null, 'a truncated tag')
})

t.test('rotation: the previous key still opens, only the new key seals', async (t) => {
  const oldKey = randomBytes(32)
  const newKey = randomBytes(32)
  const before = new SessionSealer(oldKey).seal('old session', 'k')
  const rotated = new SessionSealer(newKey, [oldKey])
  t.equal(rotated.open(before, 'k'), 'old session')
  const after = rotated.seal('new session', 'k')
  t.equal(new SessionSealer(newKey).open(after, 'k'), 'new session', 'sealed with the new key')
  t.equal(new SessionSealer(oldKey).open(after, 'k'), null, 'not with the old one')
  t.equal(new SessionSealer(newKey).open(before, 'k'), null, 'once the previous key is dropped, its sessions no longer open')
  t.throws(() => new SessionSealer(newKey, [randomBytes(16)]))
})
