import type { ConnectionDefinition, Flow } from './types.ts'

export type RequiredField = 'username' | 'password' | 'clientId' | 'clientSecret' | 'privateKey'

/**
 * The fields each flow cannot log in without: the one table both the login core (which refuses to
 * send a definition without them) and the admin API (which refuses to store one) read.
 * The security token is optional: trusted IP ranges waive it.
 */
const REQUIRED: Record<Flow, RequiredField[]> = {
  soap: ['username', 'password'],
  oauth_password: ['clientId', 'clientSecret', 'username', 'password'],
  jwt_bearer: ['clientId', 'username', 'privateKey'],
  client_credentials: ['clientId', 'clientSecret'],
}

/** The fields the definition's flow needs and it lacks, in the table's order (none for an unknown flow). */
export function missingFieldsForFlow (d: ConnectionDefinition): RequiredField[] {
  // a key held in Vault Transit (transitKey) stands for the stored private key
  const heldInTransit = typeof d.transitKey === 'string' && d.transitKey !== ''
  return (REQUIRED[d.flow] ?? []).filter(f => !(f === 'privateKey' && heldInTransit) && (typeof d[f] !== 'string' || d[f] === ''))
}
