import type { Dispatcher } from 'undici'

/**
 * node-vault's HTTP layer, replaced. node-vault 0.12 sends requests through axios, which reads
 * HTTP(S)_PROXY, NO_PROXY and VAULT_SKIP_VERIFY from the process environment by itself; with this
 * transport Vault requests go through undici with the broker's own settings instead: the egress
 * proxy (CONNECT), Vault's CA and client certificate (src/egress.ts egressDispatcher), a deadline.
 *
 * node-vault's documented hook for this is its `request-promise` option: an object whose
 * defaults() returns the function each request is made with. node-vault passes { method, uri,
 * headers, json, timeout } and reads back { statusCode, body, request: { path } }
 * (node_modules/node-vault/src/index.js, client.request and handleVaultResponse).
 */
interface VaultRequestOptions {
  method: string
  uri: string
  headers?: Record<string, string>
  json?: unknown
  timeout?: number
}

interface VaultResponse { statusCode: number, body: unknown, request: { path: string } }

/** A request that got no answer; `code` is what src/secrets/vault-errors.ts classifies. The message never holds a header. */
export class VaultTransportError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'VaultTransportError'
    this.code = code
  }
}

export function vaultRequestPromise (dispatcher: Dispatcher, defaultTimeoutMs: number): { defaults: () => (options: VaultRequestOptions) => Promise<VaultResponse> } {
  const request = async (options: VaultRequestOptions): Promise<VaultResponse> => {
    const headers: Record<string, string> = { ...options.headers }
    const path = new URL(options.uri).pathname
    // sys/health is one of the root-only paths of Vault Enterprise (docs: enterprise/namespaces,
    // "Root only API paths"): asked without the namespace
    if (ROOT_ONLY.test(path)) delete headers['X-Vault-Namespace']
    let body: string | undefined
    if (options.json !== undefined && typeof options.json === 'object') {
      body = JSON.stringify(options.json)
      headers['content-type'] ??= 'application/json'
    }
    let response: Response
    try {
      response = await fetch(options.uri, {
        method: options.method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeout ?? defaultTimeoutMs),
        dispatcher,
      } as RequestInit)
    } catch (err) {
      throw transportError(err)
    }
    const text = await response.text()
    return { statusCode: response.status, body: parseBody(text), request: { path } }
  }
  return { defaults: () => request }
}

const ROOT_ONLY = /^\/v1\/sys\/(health|seal-status)$/

function parseBody (text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** fetch's "fetch failed" hides the reason in `cause`: bring its code out, e.g. ECONNREFUSED, a TLS verification code. */
function transportError (err: unknown): VaultTransportError {
  const e = err as { name?: string, cause?: { code?: unknown, message?: unknown } }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new VaultTransportError('ETIMEDOUT', 'timed out')
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : 'ERR_NETWORK'
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return new VaultTransportError('ETIMEDOUT', 'timed out')
  const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|HOSTNAME/i.test(code)
  return new VaultTransportError(code, tls ? `TLS: ${code} (check VAULT_CACERT and Vault's certificate)` : code)
}
