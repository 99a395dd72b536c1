/**
 * Which hosts the broker may send Salesforce credentials to.
 *
 * A login URL is where passwords, client secrets and signed assertions go, and an instance URL is
 * where session ids go, so both must be a real Salesforce host: https on the default port,
 * login.salesforce.com, test.salesforce.com or a subdomain of salesforce.com / force.com
 * (My Domain, sandbox My Domain, legacy instances). Anything else — the simulator on loopback,
 * a proxy — must be named explicitly in the allow-list.
 *
 * Allow-list entries are origins: `scheme://host[:port]`. The port may be `*`, meaning any port
 * on that host (`http://127.0.0.1:*` admits the simulator's login and My Domain listeners, which
 * listen on free ports). Without a port an entry means the scheme's default port. Host names are
 * compared exactly: an entry never admits subdomains.
 */

export interface AllowedOrigin {
  protocol: 'http:' | 'https:'
  /** as WHATWG URL normalises it: lower case, IPv6 in brackets */
  hostname: string
  /** '' = the scheme's default port, '*' = any port */
  port: string
}

export interface LoginUrlPolicy {
  readonly extraAllowedOrigins: readonly AllowedOrigin[]
}

export class LoginUrlNotAllowedError extends Error {
  override readonly name = 'LoginUrlNotAllowedError'
}

/** Salesforce's own login and instance hosts; subdomains of these are Salesforce-operated. */
const SALESFORCE_EXACT_HOSTS = new Set(['login.salesforce.com', 'test.salesforce.com'])
const SALESFORCE_HOST_SUFFIXES = ['.salesforce.com', '.force.com']

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
/** origin only: scheme, host, optional port, optional single trailing slash */
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]+\/?$/i
const ALLOW_ENTRY_SHAPE = /^(https?):\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}|\*))?\/?$/i

export function createLoginUrlPolicy (options: { extraAllowedOrigins: readonly string[] }): LoginUrlPolicy {
  const origins = options.extraAllowedOrigins
    .map(entry => entry.trim())
    .filter(entry => entry !== '')
    .map(parseAllowEntry)
  return Object.freeze({ extraAllowedOrigins: Object.freeze(origins) })
}

function parseAllowEntry (entry: string): AllowedOrigin {
  const match = ALLOW_ENTRY_SHAPE.exec(entry)
  if (match === null) {
    throw new Error(`login URL allow-list entry "${entry}" is not an origin like http://127.0.0.1:8443 or http://127.0.0.1:*`)
  }
  const [, scheme, host, port] = match
  // Let the URL parser normalise the host (case, IPv4 forms) exactly as it will for checked URLs.
  const normalised = new URL(`${scheme}://${host}`)
  let normalisedPort = ''
  if (port === '*') {
    normalisedPort = '*'
  } else if (port !== undefined) {
    const n = Number(port)
    if (n < 1 || n > 65535) throw new Error(`login URL allow-list entry "${entry}" has an invalid port`)
    normalisedPort = new URL(`${scheme}://${host}:${n}`).port
  }
  return { protocol: normalised.protocol as 'http:' | 'https:', hostname: normalised.hostname, port: normalisedPort }
}

/** Throws LoginUrlNotAllowedError (with the reason) unless `url` may receive credentials. */
export function assertLoginUrlAllowed (url: string, policy: LoginUrlPolicy): void {
  const reason = loginUrlRejection(url, policy)
  if (reason !== undefined) throw new LoginUrlNotAllowedError(reason)
}

export function isLoginUrlAllowed (url: string, policy: LoginUrlPolicy): boolean {
  return loginUrlRejection(url, policy) === undefined
}

/** Why `url` may not receive credentials, or undefined when it may. Never echoes userinfo. */
export function loginUrlRejection (url: string, policy: LoginUrlPolicy): string | undefined {
  if (typeof url !== 'string' || url.trim() === '') return 'login URL is empty'
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'login URL is not a valid absolute URL'
  }
  const shown = `${parsed.protocol}//${parsed.host}`
  if (parsed.username !== '' || parsed.password !== '' || url.includes('@')) {
    return `login URL ${shown} must not contain user information (user@host)`
  }
  if (!ORIGIN_SHAPE.test(url) || parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') {
    return `login URL must be an origin only (scheme://host[:port]) without path, query or fragment; got ${shown}${parsed.pathname}`
  }
  if (policy.extraAllowedOrigins.some(origin => originMatches(origin, parsed))) return undefined
  if (parsed.protocol !== 'https:') return `login URL ${shown} must use https`
  if (parsed.port !== '') return `login URL ${shown} must use the default https port`
  if (!isSalesforceHostname(parsed.hostname)) {
    return `login URL ${shown} is not a Salesforce login host (login.salesforce.com, test.salesforce.com, *.my.salesforce.com, *.salesforce.com, *.force.com) and is not in the allow-list`
  }
  return undefined
}

function originMatches (origin: AllowedOrigin, url: URL): boolean {
  return origin.protocol === url.protocol &&
    origin.hostname === url.hostname &&
    (origin.port === '*' || origin.port === url.port)
}

/** True for login.salesforce.com, test.salesforce.com and well-formed subdomains of salesforce.com / force.com. */
export function isSalesforceHostname (hostname: string): boolean {
  const host = hostname.toLowerCase()
  if (SALESFORCE_EXACT_HOSTS.has(host)) return true
  const suffix = SALESFORCE_HOST_SUFFIXES.find(s => host.endsWith(s))
  if (suffix === undefined) return false
  const prefix = host.slice(0, -suffix.length)
  // IP literals never end in a Salesforce suffix; every label must be a plain DNS label.
  return prefix !== '' && prefix.split('.').every(label => LABEL.test(label))
}
