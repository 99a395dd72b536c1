import type { ConnectionDefinition, Flow } from '../salesforce/types.ts'

const REQUIRED: Record<Flow, Array<keyof ConnectionDefinition>> = {
  soap: ['username', 'password'],
  oauth_password: ['username', 'password', 'clientId', 'clientSecret'],
  jwt_bearer: ['username', 'clientId', 'privateKey'],
  client_credentials: ['clientId', 'clientSecret'],
}

/** Fields the flow can't log in without (the security token is optional: trusted IP ranges waive it). */
export function missingFieldsForFlow (d: ConnectionDefinition): string[] {
  return REQUIRED[d.flow].filter(f => typeof d[f] !== 'string' || d[f] === '')
}
