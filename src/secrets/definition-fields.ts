import type { ConnectionDefinition } from '../salesforce/types.ts'

/**
 * A connection definition as a flat map of strings: the shape of one KV secret, which operators
 * also read and write with `vault kv`. Every field is a string there; the only number is turned
 * back into one on the way out.
 */
const STRING_FIELDS = ['flow', 'loginUrl', 'username', 'apiVersion', 'clientId', 'password', 'securityToken', 'clientSecret', 'privateKey', 'transitKey', 'certificate', 'jwtAudience'] as const

export function definitionToFields (definition: ConnectionDefinition): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const key of STRING_FIELDS) {
    const value = definition[key]
    if (value !== undefined && value !== null) fields[key] = String(value)
  }
  fields.sessionTimeoutSeconds = String(definition.sessionTimeoutSeconds)
  // a list in a flat string map: comma-separated, as an operator would type it with `vault kv put`
  if (definition.requiredPermissions?.length) fields.requiredPermissions = definition.requiredPermissions.join(',')
  if (definition.passwordExpiresAfterDays !== undefined) fields.passwordExpiresAfterDays = String(definition.passwordExpiresAfterDays)
  if (definition.acceptRetiredFlow === true) fields.acceptRetiredFlow = 'true'
  // on by default: only the opt-out is stored
  if (definition.auditSessions === false) fields.auditSessions = 'false'
  return fields
}

export function fieldsToDefinition (fields: Record<string, unknown>): ConnectionDefinition {
  const definition: Record<string, unknown> = {}
  for (const key of STRING_FIELDS) {
    const value = fields[key]
    if (typeof value === 'string' || typeof value === 'number') definition[key] = String(value)
  }
  const timeout = Number(fields.sessionTimeoutSeconds)
  if (fields.sessionTimeoutSeconds !== undefined && fields.sessionTimeoutSeconds !== '' && Number.isFinite(timeout)) {
    definition.sessionTimeoutSeconds = timeout
  }
  const required = fields.requiredPermissions
  const list = Array.isArray(required) ? required.map(String) : typeof required === 'string' ? required.split(',') : []
  const names = list.map(p => p.trim()).filter(p => p !== '')
  if (names.length > 0) definition.requiredPermissions = names
  const expiryDays = Number(fields.passwordExpiresAfterDays)
  if (fields.passwordExpiresAfterDays !== undefined && fields.passwordExpiresAfterDays !== '' && Number.isInteger(expiryDays) && expiryDays > 0) {
    definition.passwordExpiresAfterDays = expiryDays
  }
  if (fields.acceptRetiredFlow === 'true' || fields.acceptRetiredFlow === true) definition.acceptRetiredFlow = true
  if (fields.auditSessions === 'false' || fields.auditSessions === false) definition.auditSessions = false
  return definition as unknown as ConnectionDefinition
}
