import type { Connection, ConnectionConfig } from 'jsforce'
import { BrokerError } from './broker-error.ts'
import type { BrokerSession } from './session-request.ts'

/**
 * jsforce's refresh callback, named through ConnectionConfig: `ConstructorParameters<typeof Connection>`
 * made tsc compare the whole Connection class generically (about 2 s of every type check, the
 * consumer's of these declarations too).
 */
export type RefreshFn = NonNullable<ConnectionConfig['refreshFn']>

/** jsforce retries a request after every successful refresh, with no limit: this many in a row is a loop, not bad luck. */
const MAX_REFRESHES_IN_WINDOW = 3
const REFRESH_WINDOW_MS = 10_000

/**
 * jsforce calls this when Salesforce answers 401 INVALID_SESSION_ID, then retries the request with
 * the token it gets. The token the connection holds is the one that failed: reporting it lets the
 * broker log in again only if that token is still its cached one (many pods reporting the same dead
 * token cause one login), or hand back the newer session it already has.
 */
export function brokerRefreshFn (name: string, reportInvalid: (name: string, token: string) => Promise<BrokerSession>): RefreshFn {
  const recent: number[] = []
  return (conn, callback) => {
    failures.delete(conn)
    const failed = conn.accessToken
    const now = Date.now()
    while (recent.length > 0 && now - recent[0] > REFRESH_WINDOW_MS) recent.shift()
    if (recent.length >= MAX_REFRESHES_IN_WINDOW) {
      callback(new Error(`Salesforce rejected ${recent.length} fresh sessions for connection "${name}" within ${REFRESH_WINDOW_MS / 1000} s; giving up instead of looping`))
      return
    }
    recent.push(now)
    const fresh = failed ? reportInvalid(name, failed) : Promise.reject(new Error('the connection holds no access token to report'))
    fresh.then((session) => {
      if (session.accessToken === failed) {
        callback(new Error(`the broker handed back the session Salesforce rejected for connection "${name}"`))
        return
      }
      // an org moved to another instance (or a My Domain change): later calls must go there
      if (session.instanceUrl !== conn.instanceUrl) conn._establish({ instanceUrl: session.instanceUrl, accessToken: session.accessToken })
      callback(null, session.accessToken)
    }, (err: Error) => {
      if (err instanceof BrokerError) failures.set(conn, err)
      callback(err)
    })
  }
}

/** the BrokerError of each connection's last failed refresh, until jsforce has rethrown it */
const failures = new WeakMap<object, BrokerError>()

/**
 * jsforce's SessionRefreshDelegate turns a failed refresh into `new Error('Unable to refresh session
 * due to: ' + err.message)` (lib/session-refresh-delegate.js), dropping the BrokerError's type,
 * classification, hint and retryAfterSeconds. Callers waiting on a refresh already in progress get the
 * original rejection; the one that started it gets the wrapper. This hands that caller the BrokerError
 * instance itself, so `err instanceof BrokerError` holds on every path.
 */
export function keepBrokerErrors (conn: Connection): Connection {
  const delegate = conn._refreshDelegate
  if (!delegate) return conn
  const refresh = delegate.refresh.bind(delegate)
  delegate.refresh = async (since: number) => {
    try {
      await refresh(since)
    } catch (err) {
      const original = failures.get(conn)
      failures.delete(conn)
      throw original ?? err
    }
  }
  return conn
}
