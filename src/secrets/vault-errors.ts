import { SecretStoreUnavailableError } from './store.ts'

/**
 * Turns what node-vault throws into the store's errors. node-vault rejects with an
 * ApiResponseError (`response.statusCode`, `response.body.errors`) when Vault answered, and with
 * the transport's error when it did not (src/secrets/vault-transport.ts: a code such as
 * ECONNREFUSED or ETIMEDOUT). The original error is never attached as a cause: a client error may
 * carry the request, X-Vault-Token header included.
 */
export function vaultStatusOf (err: unknown): number | undefined {
  const status = (err as { response?: { statusCode?: unknown } } | null)?.response?.statusCode
  return typeof status === 'number' ? status : undefined
}

/** Vault's own error text, on one line ("1 error occurred:\n\t* permission denied" → "permission denied"). */
export function vaultMessageOf (err: unknown): string {
  const errors = (err as { response?: { body?: { errors?: unknown } } } | null)?.response?.body?.errors
  const first = Array.isArray(errors) && typeof errors[0] === 'string' ? errors[0] : ''
  return first.replace(/^\d+ errors? occurred:/, '').replace(/\s*\*\s*/g, ' ').replace(/\s+/g, ' ').trim()
}

export function isCasMismatch (err: unknown): boolean {
  return vaultStatusOf(err) === 400 && vaultMessageOf(err).includes('check-and-set parameter did not match')
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_NETWORK', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_SOCKET'])

export function toStoreError (err: unknown, action: string): Error {
  if (err instanceof SecretStoreUnavailableError) return err
  const status = vaultStatusOf(err)
  if (status !== undefined) {
    const message = vaultMessageOf(err) || `status ${status}`
    if (status === 503 && /sealed/i.test(message)) return new SecretStoreUnavailableError('sealed', `Vault is sealed (${action})`)
    if (status === 403) return new SecretStoreUnavailableError('permission_denied', `Vault denied ${action}: ${message}`)
    if (status === 502 || status === 503 || status === 504) return new SecretStoreUnavailableError('unreachable', `Vault answered ${status} to ${action}: ${message}`)
    return new SecretStoreUnavailableError('error', `Vault answered ${status} to ${action}: ${message}`)
  }
  const e = err as { code?: unknown, isAxiosError?: unknown, message?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : undefined
  if ((code && NETWORK_CODES.has(code)) || e?.isAxiosError === true) {
    const what = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timed out' : (code ?? 'network error')
    return new SecretStoreUnavailableError('unreachable', `Vault did not answer ${action}: ${what}`)
  }
  return new SecretStoreUnavailableError('error', `${action} failed: ${typeof e?.message === 'string' ? e.message : String(err)}`)
}
