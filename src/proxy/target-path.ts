import { reachesBrokerCredentials } from './broker-credentials.ts'

/**
 * The one normalisation of a proxied request's target. The path is checked here once, the policy
 * is matched on the result, and exactly that path is sent to the connection's instance URL: no
 * second decoding anywhere can turn it into something the policy did not see.
 *
 * Rather than decode and re-encode (where proxies and servers disagree: RFC 3986 §6.2.2 leaves
 * which escapes are equivalent to each side), anything that another parser could read as a
 * different path is refused: `.`/`..` segments (and a segment starting with `..`, or ending with it
 * before another: see below), empty segments, backslashes, `;` (path parameters to Java servers),
 * and the escapes of `/`, `\`, `.`, `;` and `%` itself (double encoding). Other
 * escapes stay as they came: a policy that names `Account` does not match `Acc%6Funt`, so an
 * unusual spelling can only be refused, never let through.
 */

/** What the proxy forwards: Salesforce's REST and Apex REST APIs (SOAP and OAuth carry the session or credentials in the body). */
const FORWARDED_ROOTS = ['/services/data', '/services/apexrest/']

/** RFC 3986 pchar without `;` (and without `%`, checked apart), plus `/` */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/
const ESCAPE = /%([0-9A-Fa-f]{2})/g
/** escapes another parser might turn into a separator or a second escape: / \ . ; % and the C0 controls and DEL */
const REFUSED_ESCAPE = /^(2f|5c|2e|3b|25|[01][0-9a-f]|7f)$/i

export type TargetPath =
  | { ok: true, path: string, query: string }
  | { ok: false, reason: 'malformed' | 'not_forwarded' | 'credentials_api' }

/**
 * `rawUrl` is the request target exactly as received (origin-form); `prefix` the proxy route's
 * literal prefix for this connection, e.g. `/v1/connections/acme/salesforce`.
 */
export function targetPath (rawUrl: string, prefix: string): TargetPath {
  const q = rawUrl.indexOf('?')
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const query = q === -1 ? '' : rawUrl.slice(q)
  if (!rawPath.startsWith(prefix + '/')) return { ok: false, reason: 'malformed' }
  const path = rawPath.slice(prefix.length)
  if (!PATH_CHARS.test(path)) return { ok: false, reason: 'malformed' }
  if (path.includes('%') && !escapesAcceptable(path)) return { ok: false, reason: 'malformed' }
  // every segment follows a slash: an empty one (not the last: one trailing slash is a Salesforce
  // spelling, …/sobjects/) is a double slash, a dot segment a /./ or one at the end. Two dots are
  // refused wider than as a segment: @fastify/reply-from refuses any path holding `/..` or `../`
  // (a segment starting with two dots, or ending with them before another), and a call it refuses
  // would only fail after a session had been fetched and the call counted (a generic 400).
  if (path.includes('//') || path.includes('/./') || path.endsWith('/.') || path.includes('/..') || path.includes('../')) {
    return { ok: false, reason: 'malformed' }
  }
  if (!FORWARDED_ROOTS.some(root => path === root || path.startsWith(root.endsWith('/') ? root : root + '/'))) {
    return { ok: false, reason: 'not_forwarded' }
  }
  // the broker's own credentials (broker-credentials.ts), however spelled. The escapes were checked
  // above: decoding makes no separator, and cannot throw
  if (path.startsWith('/services/data/') && reachesBrokerCredentials((path.includes('%') ? decodeURIComponent(path) : path).toUpperCase().split('/'))) {
    return { ok: false, reason: 'credentials_api' }
  }
  return { ok: true, path, query }
}

/** Every % starts a well-formed escape of an acceptable byte, and the escapes decode as UTF-8. */
function escapesAcceptable (path: string): boolean {
  const escapes = path.split('%').length - 1
  let wellFormed = 0
  for (const m of path.matchAll(ESCAPE)) {
    if (REFUSED_ESCAPE.test(m[1])) return false
    wellFormed++
  }
  if (wellFormed !== escapes) return false
  // escapes that are not UTF-8 decode differently (or not at all) in different parsers
  try { decodeURIComponent(path) } catch { return false }
  return true
}
