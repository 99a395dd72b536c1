import t from 'tap'
import { editDistance, unknownVariables } from '../../src/config/unknown-variables.ts'

const KNOWN = new Set(['VAULT_ADDR', 'VAULT_TOKEN', 'REDIS_URL', 'PORT'])

t.test('editDistance counts single-character edits', async (t) => {
  t.equal(editDistance('VAULT_ADRR', 'VAULT_ADDR'), 1)
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('same', 'same'), 0)
})

t.test('unknownVariables names typos of the known prefixes, sorted, with the closest setting', async (t) => {
  t.same(unknownVariables({
    VAULT_ADRR: 'x',
    REDIS_SOMETHING_QUITE_DIFFERENT: 'x',
    VAULT_ADDR: 'x',
    HOME: '/root', // no known prefix
    vault_addr: 'x', // not upper case: not the broker's spelling
    REDIS_SERVICE_HOST: '10.0.0.1', // a Kubernetes service link
    REDIS_PORT_6379_TCP_ADDR: '10.0.0.1',
  }, KNOWN), [
    'unknown variable REDIS_SOMETHING_QUITE_DIFFERENT (not a setting of sf-broker; see the README\'s configuration table)',
    'unknown variable VAULT_ADRR; did you mean VAULT_ADDR?',
  ])
})
