import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { nameHoldsSession, scrubText } from './scrub-stream.ts'

/**
 * The headers that cross the proxy, by allow-list in both directions: whatever is not named here
 * (Cookie, the caller's Authorization, Host, Forwarded/X-Forwarded-*, hop-by-hop headers, a
 * caller's made-up header) never reaches Salesforce, and Salesforce's Set-Cookie, server details
 * and any other header never reach the caller.
 */

/** request headers Salesforce's REST API reads (REST API Developer Guide, "Headers"), plus Sforce-* by prefix */
const REQUEST_HEADERS = new Set([
  'accept', 'accept-language', 'content-type', 'content-encoding', 'content-length',
  'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'x-prettyprint',
])

/**
 * response headers a REST client needs; Sforce-Limit-Info, Sforce-Locator and Sforce-NumberOfRecords
 * come by prefix. Not Cache-Control or Expires: an answer made with the broker's session is the
 * broker's to mark, and it says no-store.
 */
const RESPONSE_HEADERS = new Set([
  'content-type', 'etag', 'last-modified', 'retry-after', 'vary', 'warning', 'date',
])

/** Node rejects CR/LF in header values; a value with any other control character (tab aside) is dropped too. */
function hasControl (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true
  }
  return false
}

/**
 * The header names a message's Connection header lists: hop-by-hop, meant for the next hop only and
 * removed before the message is forwarded (RFC 9110 §7.6.1). Undefined when it lists none besides
 * the usual `keep-alive`/`close` (almost every message: nothing to build).
 */
function connectionListed (value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join(',') : value
  if (!text.includes(',') && /^\s*(keep-alive|close)\s*$/i.test(text)) return undefined
  const names = text.split(',').map(n => n.trim().toLowerCase()).filter(n => n !== '' && n !== 'close' && n !== 'keep-alive')
  return names.length > 0 ? new Set(names) : undefined
}

export function forwardedRequestHeaders (incoming: IncomingHttpHeaders, accessToken: string, host: string): Record<string, string> {
  const out: Record<string, string> = {}
  const hopByHop = connectionListed(incoming.connection)
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined) continue
    if (!REQUEST_HEADERS.has(name) && !name.startsWith('sforce-')) continue
    if (hopByHop?.has(name) === true) continue
    const text = Array.isArray(value) ? value.join(', ') : value
    if (hasControl(text)) continue
    out[name] = text
  }
  out.host = host
  out.authorization = `Bearer ${accessToken}`
  // identity, so that echoes of the session can be scrubbed from the answer (src/proxy/scrub-stream.ts)
  out['accept-encoding'] = 'identity'
  return out
}

/**
 * An allowed name that does not hold the session: an Apex REST endpoint can name a header as it
 * likes (RestContext.response.addHeader('Sforce-Debug-' + UserInfo.getSessionId(), …)), and a name
 * cannot be scrubbed, only dropped. Only Sforce-* names are free; the fixed ones hold no session.
 */
function passesBack (lowerName: string, accessToken: string): boolean {
  if (RESPONSE_HEADERS.has(lowerName)) return true
  return lowerName.startsWith('sforce-') && !nameHoldsSession(accessToken, lowerName)
}

/** The names (lower case) of the headers of Salesforce's answer that returnedResponseHeaders passes on. */
export function returnedHeaderNames (upstream: IncomingHttpHeaders | OutgoingHttpHeaders, accessToken: string): string[] {
  const names: string[] = []
  for (const name in upstream) {
    const lower = name.toLowerCase()
    if (upstream[name] !== undefined && passesBack(lower, accessToken)) names.push(lower)
  }
  return names
}

/**
 * The allowed headers of Salesforce's answer, each value scrubbed of the session's forms as the body
 * is: an Apex REST endpoint can put anything in a header (RestContext.response.addHeader). A header
 * whose name holds the session is dropped.
 */
export function returnedResponseHeaders (upstream: IncomingHttpHeaders | OutgoingHttpHeaders, accessToken: string): Record<string, string> {
  const out: Record<string, string> = {}
  const hopByHop = connectionListed(upstream.connection as string | string[] | undefined)
  // for…in, not Object.entries: no array of pairs per answer (the headers object is a plain one)
  for (const name in upstream) {
    const value = upstream[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (!passesBack(lower, accessToken) || hopByHop?.has(lower) === true) continue
    out[lower] = scrubText(accessToken, Array.isArray(value) ? value.join(', ') : String(value))
  }
  return out
}
