import { editDistance } from '../config/unknown-variables.ts'

/** The part of a TypeBox validation error this needs (typebox/value's `Value.Errors` items). */
interface SchemaError {
  instancePath: string
  message: string
  keyword?: string
  params?: unknown
}

/**
 * One line an operator can act on for a principals document the schema refused. A misspelt field
 * (`rol` for `role`) fails `additionalProperties: false`, which TypeBox words as "schema is false":
 * name the field and the one probably meant instead. Values are never quoted (a document may hold hashes).
 */
export function describePrincipalsError (errors: readonly SchemaError[], fields: { document: readonly string[], principal: readonly string[] }): string {
  const [error] = errors
  const at = error.instancePath || '/'
  const segments = error.instancePath.split('/').slice(1)
  if (error.message === 'schema is false' && segments.length > 0) {
    const field = segments[segments.length - 1]
    const known = segments.length === 1 ? fields.document : segments.length === 3 && segments[0] === 'principals' ? fields.principal : []
    if (known.length > 0) {
      const where = segments.length === 1 ? 'the document' : `principal ${segments[1]}`
      const [closest] = known.map(k => ({ k, d: editDistance(field.toLowerCase(), k.toLowerCase()) })).sort((a, b) => a.d - b.d)
      const guess = closest && closest.d <= 3 ? `; did you mean "${closest.k}"?` : ''
      return `invalid principals document at ${at}: unknown field "${field}" in ${where}${guess} (fields: ${known.join(', ')})`
    }
  }
  // a choice (kind, role) fails once per allowed value: list them all
  const allowed = errors.filter(e => e.instancePath === error.instancePath && e.keyword === 'const')
    .map(e => (e.params as { allowedValue?: unknown } | undefined)?.allowedValue).filter(v => typeof v === 'string')
  if (allowed.length > 0) return `invalid principals document at ${at}: must be one of: ${allowed.join(', ')}`
  return `invalid principals document at ${at}: ${error.message}`
}
