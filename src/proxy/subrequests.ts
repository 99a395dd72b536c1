import type { ApiCall } from './api-family.ts'

/**
 * Calls whose body carries requests of its own, each with a `url`: Composite (`composite`,
 * `composite/batch`, `composite/graph`; REST API Developer Guide, "Composite Resources") and the
 * Connect REST API's batch (`connect/batch`, `chatter/batch`). What the path check refuses
 * (target-path.ts) must not pass as a sub-request: the body is read whole and checked.
 */
export function carriesSubrequests (call: ApiCall): boolean {
  if (call.api === 'composite') return true
  return (call.api === 'connect' || call.api === 'chatter') && (call.rest === '/batch' || call.rest.startsWith('/batch/'))
}

/** `apps/oauth` as a pair of path segments, once the text is unescaped (below) and in lower case. */
const CREDENTIALS_API_SEGMENTS = /(^|[^a-z0-9_.~-])apps\/oauth([^a-z0-9_.~-]|$)/

/**
 * Whether a body names the OAuth credentials API (target-path.ts CREDENTIALS_API) anywhere, in any
 * escaping the body's format or a URL allows: JSON `\u0061` and `\/`, XML `&#97;`/`&#x61;`, and
 * percent-escapes (twice over too). A body that merely mentions it in a field is refused as well:
 * the check cannot tell a sub-request's url from data, and errs towards refusing.
 */
export function namesCredentialsApi (body: Buffer): boolean {
  let text = body.toString('utf8')
  if (!/apps|%|\\u|&#/i.test(text)) return false
  text = text
    .replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(/\\\//g, '/')
    .replace(/&#x([0-9a-fA-F]{1,6});/g, (_m, hex: string) => String.fromCodePoint(Math.min(Number.parseInt(hex, 16), 0x10ffff)))
    .replace(/&#([0-9]{1,7});/g, (_m, dec: string) => String.fromCodePoint(Math.min(Number.parseInt(dec, 10), 0x10ffff)))
  for (let round = 0; round < 3 && text.includes('%'); round++) {
    text = text.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
  }
  return CREDENTIALS_API_SEGMENTS.test(text.toLowerCase())
}
