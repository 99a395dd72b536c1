import { DomainError } from '../errors.ts'
import { SECRET_FIELDS, type ConnectionDefinition } from '../salesforce/types.ts'

/** Secrets, where they came from, may only go back there: another host, user or app means the candidate brings its own. */
export function checkSecretsStayHome (name: string, stored: ConnectionDefinition, candidate: Partial<ConnectionDefinition>): void {
  const moved = (['loginUrl', 'username', 'clientId'] as const).filter(f => candidate[f] !== undefined && !sameValue(f, candidate[f], stored[f]))
  if (moved.length === 0) return
  const held = SECRET_FIELDS.filter(f => isSet(stored[f]))
  // a key in Vault Transit (transitKey) signs the assertions a stored private key would: each is a
  // bearer credential for its user at the token endpoint it names, so it stays home likewise
  if (isSet(stored.transitKey) && !held.includes('privateKey')) held.push('privateKey')
  const missing = held.filter(f => !isSet(candidate[f]))
  if (missing.length === 0) return
  throw new DomainError('bad_request', `a candidate with another ${moved.join(', ')} must supply every secret itself (stored secrets are only sent where they are stored for): ${missing.join(', ')}`, {
    connection: name,
    errors: missing.map(f => ({ path: `body/${f}`, message: `required when ${moved.join(', ')} differs from the stored connection` })),
  })
}

function isSet (value: unknown): boolean {
  return typeof value === 'string' && value !== ''
}

function sameValue (field: 'loginUrl' | 'username' | 'clientId', a: string | undefined, b: string | undefined): boolean {
  if (field === 'loginUrl') return originOf(a ?? '') === originOf(b ?? '')
  if (field === 'username') return (a ?? '').toLowerCase() === (b ?? '').toLowerCase()
  return a === b
}

export function sameSecretAndDestination (stored: ConnectionDefinition, merged: ConnectionDefinition): boolean {
  return merged.flow === stored.flow &&
    SECRET_FIELDS.every(f => merged[f] === stored[f]) &&
    (['loginUrl', 'username', 'clientId'] as const).every(f => sameValue(f, merged[f], stored[f]))
}

/** The origin a login is sent to, for the audit record; the raw text when it does not parse. */
export function originOf (url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return url.slice(0, 255)
  }
}
