import t from 'tap'
import { createServer } from 'node:http'
import { inspect } from 'node:util'
import type { AddressInfo } from 'node:net'
import { BrokerError, createBrokerClient } from '../src/index.ts'
import { testPrincipals } from '../../../test/support/principals.ts'
import { startBroker } from './support.ts'

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure') }, (e: unknown) => e as BrokerError)

t.test('a caller without a grant gets a 403 BrokerError', async (t) => {
  const broker = await startBroker(t)
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.reportingKey })
  t.teardown(() => client.close())
  const err = await failure(client.getSession('acme'))
  t.ok(err instanceof BrokerError)
  t.match(err, { name: 'BrokerError', status: 403, code: 'forbidden', type: 'urn:sf-broker:problem:forbidden', connection: 'acme' })
  t.notMatch(err.message, broker.principals.reportingKey)
  t.notMatch(String(err.stack), broker.principals.reportingKey)
})

t.test('wrong stored credentials: 503 with the failure class and an admin hint', async (t) => {
  const broker = await startBroker(t, {
    'acme-password': { flow: 'oauth_password', password: 'wrong-password-xyz' },
    'acme-app': { clientSecret: 'wrong-secret-not-in-salesforce' },
  }, { principals: testPrincipals(['*']) })
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())

  const err = await failure(client.getSession('acme-password'))
  t.ok(err instanceof BrokerError)
  t.match(err, {
    status: 503,
    code: 'salesforce_login_failed',
    type: 'urn:sf-broker:problem:salesforce_login_failed',
    classification: 'invalid_credentials',
    retryable: true,
    hint: String,
    connection: 'acme-password',
  })
  t.type(err.retryAfterSeconds, 'number', 'retryable, after the pause the broker names')
  t.notMatch(JSON.stringify(err), 'wrong-password-xyz')

  const again = await failure(client.getSession('acme-password'))
  t.match(again, { status: 503, classification: 'invalid_credentials' }, 'logins stay paused')
  t.type(again.retryAfterSeconds, 'number', 'with Retry-After')
  t.equal(broker.sim.stats('acme').attempts, 1, 'the failure is not retried against Salesforce')

  const app = await failure(client.getSession('acme-app'))
  t.match(app, { status: 503, code: 'salesforce_login_failed', classification: 'invalid_client', hint: String })
  t.notMatch(JSON.stringify(app), 'wrong-secret-not-in-salesforce')
})

t.test('404 for an unknown connection, 401 for an unknown key, 429 with Retry-After', async (t) => {
  const broker = await startBroker(t, { acme: {} }, { principals: testPrincipals(['*'], 2) })
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())
  t.match(await failure(client.getSession('ghost')), { status: 404, code: 'not_found' })

  const stranger = createBrokerClient({ baseUrl: broker.baseUrl, credentials: testPrincipals().billingKey })
  t.teardown(() => stranger.close())
  t.match(await failure(stranger.getSession('acme')), { status: 401, code: 'unauthenticated' })

  await client.getSession('acme')
  const limited = await failure(client.getSession('acme', { forceRefresh: true }))
  t.match(limited, { status: 429, code: 'rate_limited', type: 'urn:sf-broker:problem:rate_limited' })
  t.ok(limited.retryAfterSeconds! >= 1)
})

t.test('an answer that is not problem+json still becomes a BrokerError', async (t) => {
  const proxy = createServer((req, res) => {
    if (req.url?.includes('/gateway/')) {
      res.writeHead(502, { 'content-type': 'text/html', 'retry-after': 'Wed, 21 Oct 2099 07:28:00 GMT' })
      res.end('<html>Bad Gateway</html>')
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ accessToken: 'x' }))
    }
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => proxy.close())
  const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`

  const gateway = createBrokerClient({ baseUrl: `${base}/gateway`, credentials: 'k' })
  const err = await failure(gateway.getSession('acme'))
  t.match(err, { status: 502, type: 'about:blank', code: 'http_502', retryable: true })
  t.ok(err.retryAfterSeconds! > 1_000_000, 'an HTTP-date Retry-After is turned into seconds')

  const incomplete = createBrokerClient({ baseUrl: base, credentials: 'k' })
  t.match(await failure(incomplete.getSession('acme')), { status: 0, code: 'invalid_response' })

  const unreachable = createBrokerClient({ baseUrl: 'http://127.0.0.1:1', credentials: 'k' })
  t.match(await failure(unreachable.getSession('acme')), { status: 0, code: 'broker_unreachable', retryable: true })
})

t.test('a credential a header cannot carry fails as credentials_unavailable, and the error never quotes it', async (t) => {
  const broker = await startBroker(t)
  // a key file with a second line (the previous key, a note), read as is by the credentials function
  const file = `${broker.principals.billingKey}\nsfb.billing.the-previous-key-still-secret\n`
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: () => file })
  t.teardown(() => client.close())
  const err = await failure(client.getSession('acme'))
  t.ok(err instanceof BrokerError)
  t.match(err, { status: 0, code: 'credentials_unavailable', retryable: false }, 'the broker was never asked: not "unreachable", and retrying will not help')
  // what console.error(err) or a logger's error serializer prints: the message, the stack and the causes
  for (const secret of [broker.principals.billingKey.split('.').at(-1) as string, 'the-previous-key-still-secret']) {
    t.notMatch(inspect(err, { depth: 10 }), secret, 'the credential is not in the error or its causes')
  }
})

t.test('a credential fetch cannot send after trimming only HTTP whitespace (a byte order mark) is credentials_unavailable, not unreachable', async (t) => {
  const broker = await startBroker(t)
  // a key file saved by a Windows editor starts with U+FEFF: String.prototype.trim drops it, fetch does not
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: () => `\ufeff${broker.principals.billingKey}\n` })
  t.teardown(() => client.close())
  t.match(await failure(client.getSession('acme')), { status: 0, code: 'credentials_unavailable', retryable: false }, 'the broker was never asked, and retrying will not help')
})
