import t from 'tap'
import { generateApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'
import { ConfigError } from '../../src/config.ts'

const key = generateApiKey('dup')
const withGrants = (connections: unknown[]) => ({
  principals: [{ id: 'dup', kind: 'service', apiKeySha256: [key.sha256], sessions: false, connections }],
})

t.test('a caller granted a connection twice (plain and with rules) is refused: the first grant would drop the rules', async (t) => {
  // e.g. a plain grant left over when rules were added for the same connection
  const doc = withGrants(['acme', { connection: 'acme', rules: [{ api: 'limits' }] }])
  t.throws(() => parsePrincipals(doc), ConfigError)
  t.throws(() => parsePrincipals(doc), { message: /"dup" is granted connection "acme" more than once/ })
})

t.test('two grants with rules on one connection, or "*" twice, are refused too', async (t) => {
  t.throws(() => parsePrincipals(withGrants([{ connection: 'acme', rules: [] }, { connection: 'acme', rules: [{ api: 'limits' }] }])), { message: /connection "acme"/ })
  t.throws(() => parsePrincipals(withGrants(['*', { connection: '*', rules: [] }])), { message: /connection "\*"/ })
})

t.test('a named grant beside a "*" one is still accepted (the named one wins)', async (t) => {
  const directory = parsePrincipals(withGrants(['*', { connection: 'acme', rules: [{ api: 'limits' }] }]))
  t.equal(directory.byId.get('dup')?.id, 'dup')
})
