/**
 * The one way this folder talks HTTP: a bounded fetch that never follows redirects (credentials
 * must not travel to a host the login URL policy never saw) and always has a deadline.
 */

export interface HttpAnswer {
  status: number
  headers: Headers
  body: string
}

export interface HttpRequest {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  timeoutMs: number
}

/** Salesforce login and limits answers are small; anything bigger is not one of them. */
const MAX_BODY_CHARS = 1_000_000

/** Rejects on network errors and timeouts (TimeoutError); resolves with any HTTP status. */
export async function httpRequest (url: string, request: HttpRequest): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(Math.max(1, request.timeoutMs)),
  })
  const body = await response.text()
  return { status: response.status, headers: response.headers, body: body.length > MAX_BODY_CHARS ? body.slice(0, MAX_BODY_CHARS) : body }
}

export function postForm (url: string, form: Record<string, string>, timeoutMs: number): Promise<HttpAnswer> {
  return httpRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
    timeoutMs,
  })
}

/** JSON.parse that answers undefined instead of throwing (error pages are often HTML). */
export function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A deadline shared by the requests of one operation. */
export function deadlineIn (timeoutMs: number): () => number {
  const end = Date.now() + timeoutMs
  return () => Math.max(1, end - Date.now())
}
