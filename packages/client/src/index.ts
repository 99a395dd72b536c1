/**
 * Client SDK for sf-broker: fetches Salesforce sessions from the broker, keeps them in memory until
 * shortly before they expire, and hands out jsforce Connections that recover from an expired
 * session by themselves.
 */
import type { Connection, Schema } from 'jsforce'
import { BrokerError, clientError } from './broker-error.ts'
import { brokerRefreshFn, keepBrokerErrors } from './jsforce-refresh.ts'
import { requestSession, type BrokerSession } from './session-request.ts'
import { proxyConnection, type ProxyConnectionOptions } from './proxy-connection.ts'
import { readCredential, requestContext, type ClientOptions } from './transport.ts'

export { BrokerError } from './broker-error.ts'
export { BROKER_PROBLEM_CODES, type BrokerErrorCode, type BrokerProblemCode, type ClientErrorCode } from './problem-codes.ts'
export type { BrokerFlow, BrokerSession } from './session-request.ts'
export type { ProxyConnectionOptions } from './proxy-connection.ts'
export { ADMIN_ROUTES, adminPath, createAdminClient, type AdminAnswer, type AdminClient, type AdminClientOptions, type AdminRequest, type AdminRoute, type RouteParams } from './admin.ts'

export interface BrokerClientOptions extends ClientOptions {
  /** renew this long before expiresAt (default 30 s); keep it well under the broker's max TTL, or every call goes to the broker */
  refreshMarginMs?: number
}

export interface GetSessionOptions {
  /** an access token Salesforce answered INVALID_SESSION_ID for; see reportInvalid */
  rejectedToken?: string
  /** skip the in-memory cache and ask the broker (which may still answer from its own cache) */
  forceRefresh?: boolean
}

export interface BrokerClient {
  /** A usable session: from memory while it has more than refreshMarginMs left, else from the broker. Concurrent calls for one connection share one request. */
  getSession (name: string, opts?: GetSessionOptions): Promise<BrokerSession>
  /** Tells the broker Salesforce rejected `token`; returns the session that replaces it and caches that. */
  reportInvalid (name: string, token: string): Promise<BrokerSession>
  /** A jsforce Connection on the broker's session that renews itself through the broker on INVALID_SESSION_ID. */
  connection (name: string, opts?: { version?: string }): Promise<Connection>
  /**
   * A jsforce Connection through the broker's proxy (/v1/connections/{name}/salesforce): this process
   * never holds a Salesforce session, the caller's grant rules apply, and the broker renews an ended
   * session itself. Works for proxy-only callers (principal `sessions: false`).
   */
  proxyConnection (name: string, opts?: ProxyConnectionOptions): Promise<Connection>
  /** Drops the cache and aborts requests in flight; later calls fail with code client_closed. */
  close (): void
}

const DEFAULT_REFRESH_MARGIN_MS = 30_000

interface ConnectionState {
  cached?: BrokerSession
  /** epoch of the request that produced `cached` */
  cachedEpoch: number
  /** bumped by every report of a rejected token, so an answer to an older request cannot overwrite a newer session */
  epoch: number
  plain?: Promise<BrokerSession>
  byRejectedToken: Map<string, Promise<BrokerSession>>
}

export function createBrokerClient (opts: BrokerClientOptions): BrokerClient {
  const closing = new AbortController()
  const ctx = requestContext(opts, closing.signal)
  const refreshMarginMs = opts.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS
  const states = new Map<string, ConnectionState>()

  function stateOf (name: string): ConnectionState {
    let s = states.get(name)
    if (!s) {
      s = { cachedEpoch: 0, epoch: 0, byRejectedToken: new Map() }
      states.set(name, s)
    }
    return s
  }

  const isFresh = (s: BrokerSession) => Date.now() < s.expiresAt.getTime() - refreshMarginMs

  function fetchAndCache (name: string, state: ConnectionState, rejectedToken: string | undefined): Promise<BrokerSession> {
    const epoch = state.epoch
    return requestSession(ctx, name, rejectedToken).then((session) => {
      if (!closing.signal.aborted && epoch >= state.cachedEpoch) {
        state.cached = session
        state.cachedEpoch = epoch
      }
      return session
    })
  }

  function renew (name: string, state: ConnectionState): Promise<BrokerSession> {
    // a report in flight will produce the newest session: wait for it rather than race it
    const reporting = [...state.byRejectedToken.values()].at(-1)
    if (reporting) return reporting
    if (!state.plain) {
      state.plain = fetchAndCache(name, state, undefined).finally(() => { state.plain = undefined })
    }
    return state.plain
  }

  function report (name: string, state: ConnectionState, token: string): Promise<BrokerSession> {
    let pending = state.byRejectedToken.get(token)
    if (!pending) {
      state.epoch++
      if (state.cached?.accessToken === token) state.cached = undefined
      pending = fetchAndCache(name, state, token).finally(() => { state.byRejectedToken.delete(token) })
      state.byRejectedToken.set(token, pending)
    }
    return pending
  }

  async function getSession (name: string, getOpts: GetSessionOptions = {}): Promise<BrokerSession> {
    if (closing.signal.aborted) throw clientError('client_closed', 'The broker client is closed', name)
    const state = stateOf(name)
    if (getOpts.rejectedToken !== undefined) return report(name, state, getOpts.rejectedToken)
    const cached = state.cached
    if (!getOpts.forceRefresh && cached && isFresh(cached)) return cached
    try {
      return await renew(name, state)
    } catch (err) {
      // renewing early is a courtesy: while the broker is briefly unavailable the cached session still works until expiresAt
      const stillValid = !getOpts.forceRefresh && cached && Date.now() < cached.expiresAt.getTime()
      if (stillValid && err instanceof BrokerError && err.retryable) return cached
      throw err
    }
  }

  function reportInvalid (name: string, token: string): Promise<BrokerSession> {
    if (!token) return Promise.reject(clientError('invalid_options', 'reportInvalid needs the token Salesforce rejected', name))
    return getSession(name, { rejectedToken: token })
  }

  async function connection (name: string, connOpts: { version?: string } = {}): Promise<Connection> {
    const session = await getSession(name)
    // jsforce is loaded on first use: a program that only asks for sessions (or sfb) does not pay its start-up
    const { Connection } = await import('jsforce')
    return keepBrokerErrors(new Connection<Schema>({
      instanceUrl: session.instanceUrl,
      accessToken: session.accessToken,
      version: connOpts.version ?? session.apiVersion,
      refreshFn: brokerRefreshFn(name, reportInvalid),
    }))
  }

  async function proxied (name: string, proxyOpts: ProxyConnectionOptions = {}): Promise<Connection> {
    if (closing.signal.aborted) throw clientError('client_closed', 'The broker client is closed', name)
    // read as for a session: a failing function or an unusable value is a BrokerError, never handed to jsforce
    const credential = await readCredential(opts.credentials, name)
    return proxyConnection(opts.baseUrl, name, credential, opts.credentials, proxyOpts)
  }

  function close (): void {
    closing.abort()
    states.clear()
  }

  return { getSession, reportInvalid, connection, proxyConnection: proxied, close }
}
