import { Type } from 'typebox'

export const CONNECTION_NAME_PATTERN_SOURCE = '^[a-z0-9][a-z0-9-]{0,62}$'

export const ConnectionNameParams = Type.Object({
  name: Type.String({ pattern: CONNECTION_NAME_PATTERN_SOURCE, description: 'Connection name: lower-case letters, digits and dashes' }),
}, { additionalProperties: false })
