import { BrokerError, clientError } from './broker-error.ts'

export type Credentials = string | (() => string | Promise<string>)

/** What every client of the package is made from; createBrokerClient and createAdminClient check it alike. */
export interface ClientOptions {
  /** e.g. http://sf-broker.platform.svc:8080 */
  baseUrl: string
  /** an API key (sfb.<id>.<secret>), a static JWT, or a function returning a fresh token (e.g. re-reading a projected Kubernetes service-account token file); a function is called for every request */
  credentials: Credentials
  /** per request (default 10 s) */
  timeoutMs?: number
  /** default: the global fetch */
  fetch?: typeof fetch
}

export interface RequestContext {
  baseUrl: string
  credentials: Credentials
  timeoutMs: number
  fetch: typeof fetch
  /** aborted when the client closes */
  closed: AbortSignal
}

const DEFAULT_TIMEOUT_MS = 10_000

/** Options checked once, at creation: a BrokerError (code invalid_options) like every other failure, so one catch handles a misconfigured client too. */
export function requestContext (opts: ClientOptions, closed: AbortSignal): RequestContext {
  if (!opts?.baseUrl) throw clientError('invalid_options', 'baseUrl is required: the broker\'s URL, e.g. http://sf-broker.platform.svc:3000')
  if (!opts.credentials) throw clientError('invalid_options', 'credentials are required: an API key (sfb.<id>.<secret>), a JWT, or a function returning one (e.g. process.env.SF_BROKER_KEY is unset)')
  try {
    if (!/^https?:$/.test(new URL(opts.baseUrl).protocol)) throw new Error('not http')
  } catch {
    throw clientError('invalid_options', 'baseUrl must be an http(s) URL, e.g. http://sf-broker.platform.svc:3000')
  }
  return {
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    credentials: opts.credentials,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    fetch: opts.fetch ?? globalThis.fetch,
    closed,
  }
}

export interface Sent {
  res: Response
  /** the request's own deadline, to tell a timeout from a closed client while the body is read */
  timeout: AbortSignal
}

/**
 * The caller's credential, read now (a projected service-account token file is rotated underneath us).
 * Every way it can be unusable is a BrokerError credentials_unavailable, for a session and a proxied call alike.
 */
export async function readCredential (credentials: Credentials, connection?: string): Promise<string> {
  let credential: string
  try {
    credential = typeof credentials === 'function' ? await credentials() : credentials
  } catch (err) {
    throw clientError('credentials_unavailable', 'The credentials function failed (e.g. the token file could not be read)', connection, err)
  }
  if (typeof credential !== 'string' || credential === '') throw clientError('credentials_unavailable', 'The credentials function returned no token', connection)
  // fetch refuses such a header with a TypeError that quotes the whole value, the credential included;
  // as the cause of an "unreachable" error it would reach logs (and invite retries that cannot help).
  // Surrounding whitespace (a file's final newline) is fine: fetch trims it (Fetch Standard, header value
  // normalization), but only HTTP whitespace (tab, space, CR, LF): String.prototype.trim also drops a
  // byte order mark (a file saved by a Windows editor) or U+2028, which fetch then refuses as "unreachable"
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/.test(credential.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, ''))) {
    throw clientError('credentials_unavailable', 'The credential holds a line break or another character an HTTP header cannot carry (e.g. a key file with a second line); nothing was sent', connection)
  }
  return credential
}

/**
 * One request to the broker, with the caller's credential (read per request: a projected
 * service-account token file is rotated underneath us), the client's deadline and its close signal.
 * A failure before an answer arrives is a BrokerError; the answer, whatever its status, is the caller's to read.
 */
export async function send (ctx: RequestContext, path: string, init: { method: string, headers?: Record<string, string>, body?: string }, connection?: string): Promise<Sent> {
  if (ctx.closed.aborted) throw clientError('client_closed', 'The broker client is closed', connection)
  const credential = await readCredential(ctx.credentials, connection)
  const timeout = AbortSignal.timeout(ctx.timeoutMs)
  let res: Response
  try {
    res = await ctx.fetch(ctx.baseUrl + path, {
      method: init.method,
      headers: { authorization: `Bearer ${credential}`, accept: 'application/json, application/problem+json', ...init.headers },
      body: init.body,
      signal: AbortSignal.any([timeout, ctx.closed]),
      redirect: 'error',
    })
  } catch (err) {
    throw transportError(err, ctx, timeout, connection)
  }
  return { res, timeout }
}

export function transportError (err: unknown, ctx: RequestContext, timeout: AbortSignal, connection?: string): BrokerError {
  if (ctx.closed.aborted) return clientError('client_closed', 'The broker client is closed', connection)
  if (timeout.aborted) return clientError('timeout', `The broker did not answer within ${ctx.timeoutMs} ms`, connection, err)
  // where it tried (the origin only: a URL's user-info is not printed) and why, e.g. ECONNREFUSED or ENOTFOUND
  const why = (err as { cause?: { code?: string } }).cause?.code
  return clientError('broker_unreachable', `The broker at ${new URL(ctx.baseUrl).origin} could not be reached${why ? ` (${why})` : ''}`, connection, err)
}
