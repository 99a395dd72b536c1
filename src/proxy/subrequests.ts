/**
 * Calls whose body carries requests of its own, each with a `url`: Composite (`composite`,
 * `composite/batch`, `composite/graph`, `tooling/composite…`; REST API Developer Guide, "Composite
 * Resources") and the Connect REST API's batch (`connect/batch`, `chatter/batch`, under a site's
 * prefix too). What the path check refuses (target-path.ts) must not pass as a sub-request: such a
 * body is read whole, as JSON, and every string in it is checked as a path.
 */

/**
 * Any path under /services/data with a `composite` or `batch` segment, in any case, escaping or
 * version spelling: a family the broker names differently (api-family.ts) is still caught.
 */
export function carriesSubrequests (path: string): boolean {
  if (!path.startsWith('/services/data/')) return false
  const lower = (path.includes('%') ? decodeURIComponent(path) : path).toLowerCase()
  return lower.split('/').slice(3).some(segment => segment === 'composite' || segment === 'batch')
}

export type SubrequestCheck = 'ok' | 'credentials_api' | 'unreadable'

/**
 * A sub-request body as JSON (UTF-8; what is not is `unreadable`): `credentials_api` when any string
 * in it, key or value, reads as a path through the OAuth credentials API (target-path.ts
 * CREDENTIALS_API). JSON's own escapes are undone by parsing; a string that merely mentions the
 * path in a record's data is refused as well: the check cannot tell a url from data.
 */
export function checkSubrequests (body: Buffer): SubrequestCheck {
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8').replace(/^\uFEFF/, ''))
  } catch {
    return 'unreadable'
  }
  return someString(doc, pathThroughCredentialsApi) ? 'credentials_api' : 'ok'
}

function someString (value: unknown, test: (text: string) => boolean): boolean {
  if (typeof value === 'string') return test(value)
  if (Array.isArray(value)) return value.some(v => someString(v, test))
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => test(k) || someString(v, test))
  return false
}

/**
 * The text read as a path the way a lenient server might: percent-escapes undone (three times over:
 * double encoding), `\` as `/`, `;` parameters and `.`/empty segments dropped, `..` taking the
 * segment before it back. Then an `apps` segment followed by `oauth`.
 */
function pathThroughCredentialsApi (text: string): boolean {
  let s = text
  if (!/apps|%/i.test(s)) return false
  for (let round = 0; round < 3 && s.includes('%'); round++) {
    s = s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
  }
  const segments: string[] = []
  for (const raw of s.toLowerCase().split(/[/\\]/)) {
    const segment = raw.split(';')[0].trim()
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment)
  }
  return segments.some((segment, i) => segment === 'apps' && segments[i + 1] === 'oauth')
}
