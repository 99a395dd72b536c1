/** What a value must look like, in words, for the one-line error when a pattern does not match. */
export const EXPECTED = 'x-expected'

/** The part of a TypeBox validation error this needs (typebox/value's `Value.Errors` items). */
export interface SchemaError {
  instancePath: string
  message: string
  params: unknown
}

/** The values a choice setting accepts (a union of literals, an enum, a boolean), for "must be one of: …". */
export function allowedValues (schema: Record<string, unknown>): string[] | undefined {
  const literals = (schema.anyOf as Array<Record<string, unknown>> | undefined)?.map(s => s.const)
  if (literals?.every(v => typeof v === 'string' || typeof v === 'number')) return literals.map(String)
  if (Array.isArray(schema.enum)) return schema.enum.map(String)
  if (schema.type === 'boolean') return ['true', 'false']
  return undefined
}

/**
 * The one line an operator reads for a value the schema refused: the variable, then what it must look
 * like (its `x-expected` words, its allowed values, or the validator's own message). Never the value.
 */
export function describeSchemaError (error: SchemaError, properties: Readonly<Record<string, Record<string, unknown> | undefined>>): string {
  const variable = error.instancePath.replace(/^\//, '') || (error.params as { requiredProperties?: string[] } | undefined)?.requiredProperties?.[0] || 'configuration'
  const schema = properties[variable]
  const expected = schema?.[EXPECTED]
  const allowed = schema ? allowedValues(schema) : undefined
  return `invalid ${variable}: ${typeof expected === 'string' ? `expected ${expected}` : allowed ? `must be one of: ${allowed.join(', ')}` : error.message}`
}
