import type { IncomingHttpHeaders } from 'node:http'
import { reachesBrokerCredentials, withoutFormatSuffix } from './broker-credentials.ts'

/**
 * Calls whose body carries requests of its own, each with a `url`: Composite (`composite`,
 * `composite/batch`, `composite/graph`, `tooling/composite…`; REST API Developer Guide, "Composite
 * Resources") and the Connect REST API's batch (`connect/batch`, `chatter/batch`, under a site's
 * prefix too). What the path check refuses (target-path.ts) must not pass as a sub-request: such a
 * body is read whole, as JSON, and every string in it is checked as a path.
 */

/**
 * Any path under /services/data with a `composite` or `batch` segment, in any case, escaping or
 * version spelling, or with the `.json`/`.xml` format suffix Salesforce takes up to API version 57.0
 * (`composite.json`: broker-credentials.ts): a family the broker names differently (api-family.ts)
 * is still caught.
 */
export function carriesSubrequests (path: string): boolean {
  if (!path.startsWith('/services/data/')) return false
  const lower = (path.includes('%') ? decodeURIComponent(path) : path).toLowerCase()
  return lower.split('/').slice(3).some(segment => {
    const bare = withoutFormatSuffix(segment)
    return bare === 'composite' || bare === 'batch'
  })
}

export type Uncheckable = 'compressed' | 'not_utf8_json' | 'unsized'

/**
 * Why such a body cannot be checked before it goes, from its headers; undefined when it can be.
 * Compressed: Salesforce decompresses request bodies, the check would read them as sent. Not JSON
 * in UTF-8: composite batch also takes XML, and a body read as UTF-8 that Salesforce reads in
 * another charset is another body. Unsized: it is read whole, up to `bufferUpTo` bytes.
 */
export function uncheckableBody (headers: IncomingHttpHeaders, bufferUpTo: number): Uncheckable | undefined {
  const encoding = (headers['content-encoding'] ?? '').trim().toLowerCase()
  if (encoding !== '' && encoding !== 'identity') return 'compressed'
  const contentType = headers['content-type'] ?? ''
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1].toLowerCase()
  if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType) || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) return 'not_utf8_json'
  const declared = headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
  if (declared === undefined || !(declared <= bufferUpTo)) return 'unsized'
  return undefined
}

export type SubrequestCheck = 'ok' | 'credentials_api' | 'unreadable'

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
/**
 * Every string token of a text that parses as JSON, quotes included (outside strings JSON has no
 * quote). Scanned by hand: a regular expression for it runs out of stack on a string of megabytes.
 */
function * stringTokens (text: string): Generator<string> {
  for (let start = text.indexOf('"'); start !== -1; start = text.indexOf('"', start)) {
    let end = start + 1
    while (end < text.length && text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1
    yield text.slice(start, end + 1)
    start = end + 1
  }
}

/**
 * A sub-request body as JSON in UTF-8 (what is neither is `unreadable`): `credentials_api` when any
 * string in it, key or value, duplicate keys included, reads as a path to one of the broker's
 * credentials (broker-credentials.ts). The strings are taken from the text one by one
 * (no walk of the parsed value: a body nested a hundred thousand deep is no deeper here). A string
 * that merely mentions the path in a record's data is refused as well: the check cannot tell a url
 * from data.
 */
export function checkSubrequests (body: Buffer): SubrequestCheck {
  let text: string
  try {
    text = UTF8.decode(body)
    JSON.parse(text)
  } catch {
    return 'unreadable'
  }
  for (const token of stringTokens(text)) {
    if (pathThroughCredentialsApi(JSON.parse(token) as string)) return 'credentials_api'
  }
  return 'ok'
}

/** what Java's String.trim() takes off either end: every character up to U+0020 */
const JAVA_TRIM = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g // eslint-disable-line no-control-regex

/**
 * The text read as a path the way a lenient server might: percent-escapes undone (three times over:
 * double encoding; `unescape` also takes `%uXXXX`, and is fast on long strings), `\` as `/`, `;`
 * parameters, a query or fragment, Java-trimmed ends, `.` and empty segments dropped, `..` taking
 * the segment before it back, upper-cased. Then the resources broker-credentials.ts names.
 */
function pathThroughCredentialsApi (text: string): boolean {
  let s = text
  if (!/ap|user|%/i.test(s)) return false
  for (let round = 0; round < 3 && s.includes('%'); round++) s = unescape(s)
  const segments: string[] = []
  for (const raw of s.split(/[/\\]/)) {
    const segment = raw.split(/[;?#]/)[0].replace(JAVA_TRIM, '').toUpperCase()
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment)
  }
  return reachesBrokerCredentials(segments)
}
