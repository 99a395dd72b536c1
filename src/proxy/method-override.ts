/**
 * Salesforce's REST API takes the method from the query string too: "If you use an HTTP library
 * that doesn't allow overriding or setting an arbitrary HTTP method name, you can send a POST
 * request and provide an override to the HTTP method via the query string parameter _HttpMethod"
 * (REST API Developer Guide, "Update a Record"). The query passes to Salesforce unchanged, so the
 * policy judges every method the call may be taken for: the request's and the override's. The
 * parameter's name is matched without regard to case or percent-encoding (what Salesforce
 * accepts is not documented: the broker assumes the widest); two overrides are refused, since
 * which one Salesforce would take is not the broker's to guess.
 */

const OVERRIDE = '_httpmethod'

export type MethodsToJudge = { ok: true, methods: string[] } | { ok: false }

function decoded (text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/** `query`: the raw query string, with or without its leading '?'. */
export function methodsToJudge (method: string, query: string): MethodsToJudge {
  const raw = query.startsWith('?') ? query.slice(1) : query
  // the common case: no parameter whose name could spell the override
  if (!/_|%5f/i.test(raw)) return { ok: true, methods: [method] }
  const overrides: string[] = []
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=')
    const name = decoded(eq === -1 ? pair : pair.slice(0, eq))
    if (name === undefined) return { ok: false }
    if (name.trim().toLowerCase() !== OVERRIDE) continue
    const value = decoded(eq === -1 ? '' : pair.slice(eq + 1))
    if (value === undefined) return { ok: false }
    overrides.push(value.trim().toUpperCase())
  }
  if (overrides.length === 0) return { ok: true, methods: [method] }
  if (overrides.length > 1) return { ok: false }
  return { ok: true, methods: [...new Set([method, overrides[0]])] }
}
