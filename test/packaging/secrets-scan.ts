/**
 * Finds values in a parsed YAML document (compose file, Helm values) that look like a secret
 * written inline: a credential must arrive by reference (a Secret name, a file), never as a value.
 */

export interface InlineSecret { path: string, value: string }

/** keys named for what they hold: password, VAULT_SECRET_ID, SESSION_ENCRYPTION_KEY (not SECRET_STORE, tokenKey) */
const SENSITIVE_KEY = /(password|passwd|secret|secret[-_]?id|token|api[-_]?key|private[-_]?key|encryption[-_]?key|credentials?)$/i
/** the name of a Kubernetes Secret, not its content */
const REFERENCE_KEY = /^existingSecret$/
/** VAULT_TOKEN, principals.json: names of keys inside a Secret, not secrets */
const KEY_NAME = /^([A-Z][A-Z0-9_]*|[a-z0-9_.-]+\.(json|pem|crt|key|txt))$/
const SECRET_SHAPES: RegExp[] = [
  /:\/\/[^/\s:@]*:[^/\s@]+@/, // URL with a password in it
  /^[A-Za-z0-9+/]{43}=$/, // 32 bytes, base64: an AES key
  /\b(hvs|hvb|hvr)\.[A-Za-z0-9_-]{20,}/, // Vault token
  /\bsfb\.[a-z0-9-]+\.[A-Za-z0-9_-]{16,}/, // broker API key
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /(^|\s)(-a|--requirepass|--pass(word)?)\s+\S+/, // password on a command line
]
const PASSWORD_FLAG = /^(-a|--requirepass|--pass(word)?)$/

export function findInlineSecrets (document: unknown, path = ''): InlineSecret[] {
  if (Array.isArray(document)) {
    return document.flatMap((item, i) => {
      const found = findInlineSecrets(item, `${path}[${i}]`)
      // ["redis-server", "--requirepass", "x"]: the element after a password flag
      if (i > 0 && typeof item === 'string' && PASSWORD_FLAG.test(String(document[i - 1]))) found.push({ path: `${path}[${i}]`, value: item })
      return found
    })
  }
  if (typeof document === 'object' && document !== null) {
    return Object.entries(document).flatMap(([key, value]) => {
      const here = path === '' ? key : `${path}.${key}`
      const found = findInlineSecrets(value, here)
      if (typeof value === 'string' && value !== '' && SENSITIVE_KEY.test(key) && !REFERENCE_KEY.test(key) && !KEY_NAME.test(value) && !found.some(f => f.path === here)) {
        found.push({ path: here, value })
      }
      return found
    })
  }
  if (typeof document === 'string' && SECRET_SHAPES.some(shape => shape.test(document))) return [{ path, value: document }]
  return []
}
