import type { ConnectionDefinition } from '../salesforce/types.ts'

/**
 * A connection definition as a flat map of strings: the shape of one KV secret, which operators
 * also read and write with `vault kv`. Every field is a string there; the only number is turned
 * back into one on the way out.
 */
const STRING_FIELDS = ['flow', 'loginUrl', 'username', 'apiVersion', 'clientId', 'password', 'securityToken', 'clientSecret', 'privateKey'] as const

export function definitionToFields (definition: ConnectionDefinition): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const key of STRING_FIELDS) {
    const value = definition[key]
    if (value !== undefined && value !== null) fields[key] = String(value)
  }
  fields.sessionTimeoutSeconds = String(definition.sessionTimeoutSeconds)
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
  return definition as unknown as ConnectionDefinition
}
