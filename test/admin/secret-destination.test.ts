import t from 'tap'
import { checkSecretsStayHome, originOf, sameSecretAndDestination } from '../../src/admin/secret-destination.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'
import type { DomainError } from '../../src/errors.ts'

const stored: ConnectionDefinition = { flow: 'soap', loginUrl: 'https://login.salesforce.com', username: 'int@acme.example', apiVersion: '62.0', sessionTimeoutSeconds: 7200, password: 'p', securityToken: 't' }

t.test('stored secrets only travel to the host, user and app they are stored for', async (t) => {
  t.doesNotThrow(() => checkSecretsStayHome('acme', stored, { apiVersion: '63.0' }))
  t.doesNotThrow(() => checkSecretsStayHome('acme', stored, { loginUrl: 'https://login.salesforce.com/', username: 'INT@acme.example' }), 'same origin, same user')
  const refusedPaths = (candidate: Partial<ConnectionDefinition>) => {
    try {
      checkSecretsStayHome('acme', stored, candidate)
    } catch (err) {
      const e = err as DomainError
      return [e.code, ...(e.extensions.errors ?? []).map(x => x.path)]
    }
    return []
  }
  t.same(refusedPaths({ loginUrl: 'https://evil.example' }), ['bad_request', 'body/password', 'body/securityToken'])
  t.same(refusedPaths({ username: 'other@acme.example', password: 'x' }), ['bad_request', 'body/securityToken'])
  t.doesNotThrow(() => checkSecretsStayHome('acme', stored, { loginUrl: 'https://evil.example', password: 'x', securityToken: 'y' }), 'its own secrets may go anywhere allowed')
})

t.test('a candidate that changes nothing secret and no destination is the stored secret', async (t) => {
  t.equal(sameSecretAndDestination(stored, { ...stored, apiVersion: '63.0' }), true)
  t.equal(sameSecretAndDestination(stored, { ...stored, password: 'q' }), false)
  t.equal(sameSecretAndDestination(stored, { ...stored, loginUrl: 'https://test.salesforce.com' }), false)
  t.equal(originOf('https://a.my.salesforce.com/'), 'https://a.my.salesforce.com')
  t.equal(originOf('not a url'), 'not a url')
})
