import { egressFetch } from '../egress.ts'

/**
 * The one way this folder talks HTTP: a bounded fetch that never follows redirects (credentials
 * must not travel to a host the login URL policy never saw) and always has a deadline.
 */
import { createScrubber } from './scrub.ts'
import { textOf } from './soap-xml.ts'

export interface HttpAnswer {
  status: number
  headers: Headers
  body: string
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  headers?: Record<string, string>
  body?: string
  timeoutMs: number
}

/** Salesforce login and limits answers are small; anything bigger is not one of them. */
const MAX_BODY_CHARS = 1_000_000

/**
 * Rejects on network errors and timeouts (TimeoutError); resolves with any HTTP status.
 * An error answer (not 2xx) comes back without the credentials this request carried (the bearer
 * token, form-posted passwords, secrets and assertions, the SOAP password), in any encoding: every
 * caller in this folder gets that for free, whatever it does with the text afterwards.
 */
export async function httpRequest (url: string, request: HttpRequest): Promise<HttpAnswer> {
  // through the egress proxy when HTTPS_PROXY/HTTP_PROXY are set
  const response = await egressFetch(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(Math.max(1, request.timeoutMs)),
  })
  const text = await response.text()
  const body = text.length > MAX_BODY_CHARS ? text.slice(0, MAX_BODY_CHARS) : text
  return { status: response.status, headers: response.headers, body: response.ok ? body : createScrubber(sentCredentials(request))(body) }
}

/** Form fields that carry a credential in the flows and calls of this folder. */
const SECRET_FORM_FIELDS = ['password', 'client_secret', 'assertion', 'token', 'refresh_token']

/** The credentials a request carries, as sent (before encoding). */
export function sentCredentials (request: Pick<HttpRequest, 'headers' | 'body'>): string[] {
  const out: string[] = []
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (name.toLowerCase() === 'authorization') out.push(value.replace(/^Bearer\s+/i, ''))
  }
  const body = request.body ?? ''
  const contentType = Object.entries(request.headers ?? {}).find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? ''
  if (contentType.includes('x-www-form-urlencoded')) {
    const form = new URLSearchParams(body)
    for (const field of SECRET_FORM_FIELDS) {
      const value = form.get(field)
      if (value !== null) out.push(value)
    }
  } else if (contentType.includes('xml')) {
    const password = textOf(body, 'password')
    if (password !== undefined) out.push(password)
  }
  return out
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
