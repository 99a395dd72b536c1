/**
 * The broker's admin API (what `sfb` drives): one typed request helper over the routes the broker
 * publishes in openapi/openapi.json. A route is named as the document names it, method and path
 * template ('GET /v1/admin/connections/{name}'), so a misspelt route or a missing path parameter
 * is a type error, and test/openapi-contract.test.ts holds the list to the document. Answers are
 * handed back as sent; any other answer is a BrokerError, the same as the session client's.
 */
import { errorFromBody, isProblem } from './broker-error.ts'
import { requestContext, send, transportError, type ClientOptions } from './transport.ts'

/** Every admin route of the broker, and the two health routes an operator reads (openapi/openapi.json). */
export const ADMIN_ROUTES = [
  'GET /v1/admin/connections',
  'GET /v1/admin/connections/{name}',
  'PUT /v1/admin/connections/{name}',
  'DELETE /v1/admin/connections/{name}',
  'GET /v1/admin/connections/{name}/versions',
  'PATCH /v1/admin/connections/{name}/credentials',
  'POST /v1/admin/connections/{name}/validate',
  'POST /v1/admin/connections/{name}/rollback',
  'POST /v1/admin/connections/{name}/sessions/revoke',
  'POST /v1/admin/connections/{name}/migration',
  'GET /v1/admin/connections/{name}/migration',
  'DELETE /v1/admin/connections/{name}/migration',
  'GET /v1/admin/connections/{name}/migration/certificate',
  'POST /v1/admin/connections/{name}/migration/validate',
  'POST /v1/admin/connections/{name}/migration/complete',
  'POST /v1/admin/connections/{name}/certificate-rotation',
  'GET /v1/admin/connections/{name}/certificate-rotation',
  'DELETE /v1/admin/connections/{name}/certificate-rotation',
  'GET /v1/admin/connections/{name}/certificate-rotation/certificate',
  'POST /v1/admin/connections/{name}/certificate-rotation/validate',
  'POST /v1/admin/connections/{name}/certificate-rotation/complete',
  'POST /v1/admin/connections/{name}/consumer-rotation',
  'GET /v1/admin/connections/{name}/consumer-rotation',
  'DELETE /v1/admin/connections/{name}/consumer-rotation',
  'POST /v1/admin/connections/{name}/consumer-rotation/validate',
  'POST /v1/admin/connections/{name}/consumer-rotation/complete',
  'POST /v1/admin/connections/{name}/consumer-rotation/verify',
  'POST /v1/admin/connections/{name}/consumer-rotation/run',
  'GET /v1/admin/connections/{name}/consumer-rotation/policy',
  'PUT /v1/admin/connections/{name}/consumer-rotation/policy',
  'GET /v1/admin/audit',
  'GET /v1/admin/notifications/dead-letters',
  'GET /health/salesforce',
  'POST /health/salesforce/{name}/check',
] as const

export type AdminRoute = typeof ADMIN_ROUTES[number]

/** The path parameters a route template names: 'GET /a/{name}/b' → 'name'. */
export type RouteParams<R extends string> = R extends `${string}{${infer P}}${infer Rest}` ? P | RouteParams<Rest> : never

export type AdminRequest<R extends AdminRoute> = {
  /** sent as JSON */
  body?: unknown
  query?: URLSearchParams | Record<string, string | number | boolean | undefined>
  /** the connection version the change is based on: the broker refuses the change (409, code conflict) if it changed since */
  ifMatch?: number
  /** statuses besides 2xx whose answer is a result, not an error (GET /health/salesforce answers its report with 503 when a connection fails); a problem document (type and code) stays an error */
  answers?: number[]
} & ([RouteParams<R>] extends [never] ? { params?: undefined } : { params: Record<RouteParams<R>, string> })

export interface AdminAnswer<T = unknown> {
  status: number
  /** the JSON body; null when empty, undefined when not JSON (a PEM certificate) */
  body: T
  /** the body as sent */
  text: string
  /** the connection version as an entity tag ("3"), where the route sends one */
  etag: string | undefined
}

export interface AdminClient {
  /**
   * One call to an admin route. Any answer but 2xx (or `answers`) is a BrokerError: status, code, title,
   * detail, hint and the problem document as sent. The body is the JSON as sent, unchecked: name its
   * type where the answer is kept (`const a: AdminAnswer<Report> = await admin.request(…)`).
   */
  request<R extends AdminRoute, T = unknown> (route: R, ...req: [RouteParams<R>] extends [never] ? [AdminRequest<R>?] : [AdminRequest<R>]): Promise<AdminAnswer<T>>
  /** Aborts requests in flight; later calls fail with code client_closed. */
  close (): void
}

/** The path a route names, its parameters filled in and encoded: adminPath('GET /v1/admin/connections/{name}', { name: 'a b' }) → '/v1/admin/connections/a%20b'. */
export function adminPath (route: AdminRoute, params: Record<string, string> = {}): string {
  return route.slice(route.indexOf(' ') + 1).replace(/\{(\w+)\}/g, (_, p: string) => encodeURIComponent(params[p]))
}

/** Options as createBrokerClient takes them, with an admin principal's key as `credentials`. */
export type AdminClientOptions = ClientOptions

export function createAdminClient (opts: AdminClientOptions): AdminClient {
  const closing = new AbortController()
  const ctx = requestContext(opts, closing.signal)

  async function request<T> (route: AdminRoute, req: Omit<AdminRequest<AdminRoute>, 'params'> & { params?: Record<string, string> } = {}): Promise<AdminAnswer<T>> {
    const method = route.slice(0, route.indexOf(' '))
    const query = req.query instanceof URLSearchParams
      ? req.query
      : new URLSearchParams(Object.entries(req.query ?? {}).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)]))
    const headers: Record<string, string> = {}
    if (req.body !== undefined) headers['content-type'] = 'application/json'
    if (req.ifMatch !== undefined) headers['if-match'] = `"${req.ifMatch}"`
    const answers = req.answers ?? []
    const { res, timeout } = await send(ctx, adminPath(route, req.params) + (query.size > 0 ? `?${query}` : ''), {
      method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
    }, req.params?.name)
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      throw transportError(err, ctx, timeout, req.params?.name)
    }
    let body: unknown
    try {
      body = text === '' ? null : JSON.parse(text)
    } catch {
      body = undefined
    }
    // read whatever the content type says: a proxy's JSON error is still shown as it was sent
    if (!res.ok && (!answers.includes(res.status) || isProblem(body))) throw errorFromBody(res, body, req.params?.name)
    return { status: res.status, body: body as T, text, etag: res.headers.get('etag') ?? undefined }
  }

  return { request: request as AdminClient['request'], close: () => closing.abort() }
}
