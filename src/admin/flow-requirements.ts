import type { ConnectionDefinition, Flow } from '../salesforce/types.ts'

const REQUIRED: Record<Flow, Array<keyof ConnectionDefinition>> = {
  soap: ['username', 'password'],
  oauth_password: ['username', 'password', 'clientId', 'clientSecret'],
  jwt_bearer: ['username', 'clientId', 'privateKey'],
  client_credentials: ['clientId', 'clientSecret'],
}

/** Fields the flow can't log in without (the security token is optional: trusted IP ranges waive it). */
export function missingFieldsForFlow (d: ConnectionDefinition): string[] {
  // a key held in Vault Transit (transitKey) stands for the stored private key
  const heldInTransit = typeof d.transitKey === 'string' && d.transitKey !== ''
  return REQUIRED[d.flow].filter(f => !(f === 'privateKey' && heldInTransit) && (typeof d[f] !== 'string' || d[f] === ''))
}
