import { createServer } from 'node:net'
import t from 'tap'
import { BROKER_PROBLEM_CODES, BrokerError, createBrokerClient, type BrokerClientOptions, type BrokerErrorCode } from '../src/index.ts'
import { PROBLEMS } from '../../../src/errors.ts'
import { testPrincipals } from '../../../test/support/principals.ts'
import { startBroker } from './support.ts'

/** What a service developer meets first: a misconfigured client, a broker that is not there, the retry contract, typed codes. */

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure') }, (e: unknown) => e as BrokerError)

t.test('a client without credentials or URL is a BrokerError (invalid_options), not a plain TypeError', async (t) => {
  const attempt = (opts: unknown): unknown => {
    try {
      createBrokerClient(opts as BrokerClientOptions)
    } catch (err) {
      return err
    }
    return 'created'
  }
  const noKey = attempt({ baseUrl: 'http://sf-broker:3000', credentials: process.env.SF_BROKER_KEY_THAT_IS_NOT_SET })
  t.ok(noKey instanceof BrokerError, 'one catch handles it with every other failure')
  t.match(noKey, { code: 'invalid_options', type: 'urn:sf-broker:client:invalid_options', status: 0, retryable: false, message: /credentials are required/ })
  t.match(attempt({ credentials: 'sfb.x.y' }), { code: 'invalid_options', message: /baseUrl is required/ })
  t.match(attempt({ baseUrl: 'sf-broker:3000', credentials: 'sfb.x.y' }), { code: 'invalid_options', message: /http\(s\) URL/ })

  const client = createBrokerClient({ baseUrl: 'http://127.0.0.1:1', credentials: () => { throw new Error('ENOENT: /var/run/secrets/token') } })
  t.teardown(() => client.close())
  t.match(await failure(client.getSession('acme')), { code: 'credentials_unavailable', status: 0 })
  t.match(await failure(client.reportInvalid('acme', '')), { code: 'invalid_options' })
})

t.test('an unreachable broker is named by its address and the reason', async (t) => {
  const closed = createServer()
  await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as { port: number }).port
  await new Promise<void>(resolve => closed.close(() => resolve()))
  const client = createBrokerClient({ baseUrl: `http://127.0.0.1:${port}/`, credentials: 'sfb.billing.secret' })
  t.teardown(() => client.close())
  const err = await failure(client.getSession('acme'))
  t.match(err, { code: 'broker_unreachable', retryable: true })
  t.equal(err.message, `The broker at http://127.0.0.1:${port} could not be reached (ECONNREFUSED)`)
})

t.test('retryable is true exactly when the broker names a time to retry: the README retry loop retries a paused connection', async (t) => {
  const broker = await startBroker(t, { 'acme-password': { flow: 'oauth_password', password: 'wrong-password-xyz' } }, { principals: testPrincipals(['*']) })
  const client = createBrokerClient({ baseUrl: broker.baseUrl, credentials: broker.principals.billingKey })
  t.teardown(() => client.close())
  const first = await failure(client.getSession('acme-password'))
  const paused = await failure(client.getSession('acme-password'))
  t.match(first, { code: 'salesforce_login_failed', retryable: true })
  t.match(paused, { code: 'circuit_open', retryable: true })
  for (const err of [first, paused]) {
    t.ok(err.retryAfterSeconds !== undefined && err.retryAfterSeconds > 0, `${err.code}: with Retry-After`)
    // the README's example: `if (err.retryable) setTimeout(retry, (err.retryAfterSeconds ?? 5) * 1000)`
    t.equal(err.retryable, err.retryAfterSeconds !== undefined, `${err.code}: retryable and Retry-After agree`)
  }
  const unknown = await failure(client.getSession('ghost'))
  t.match(unknown, { code: 'not_found', retryable: undefined, retryAfterSeconds: undefined }, 'no time to retry: waiting does not help')
})

t.test('code is a union of the known codes: the SDK knows every problem the broker can answer', async (t) => {
  t.same([...BROKER_PROBLEM_CODES].sort(), Object.keys(PROBLEMS).sort(), 'packages/client/src/problem-codes.ts lists the broker\'s codes')
  // compile-time: an exhaustive switch over a client code would not type-check with code: string
  const describe = (code: BrokerErrorCode): string => {
    switch (code) {
      case 'circuit_open': return 'paused'
      case 'broker_unreachable': return 'down'
      default: return code
    }
  }
  t.equal(describe('circuit_open'), 'paused')
  // @ts-expect-error a misspelt code is a type error now, not a silent never-taken branch
  t.equal(describe('circuit_opened'), 'circuit_opened')
})
