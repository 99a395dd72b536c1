import { Type } from 'typebox'
import { FLOWS } from '../salesforce/types.ts'

export const SessionRequestSchema = Type.Object({
  rejectedToken: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 4096,
    description: 'An access token Salesforce answered INVALID_SESSION_ID for. The broker logs in again only if it is the one it has cached; otherwise the newer cached session is returned.',
  })),
}, { additionalProperties: false })

export const SessionSchema = Type.Object({
  accessToken: Type.String({ description: 'Salesforce session id / OAuth access token. Send as Authorization: Bearer.' }),
  instanceUrl: Type.String({ description: 'Base URL for REST and SOAP calls' }),
  tokenType: Type.Literal('Bearer'),
  issuedAt: Type.String({ format: 'date-time', description: 'When Salesforce issued the session' }),
  expiresAt: Type.String({ format: 'date-time', description: 'Ask again by then. Earlier than the session\'s real end by a safety margin, and at most the broker\'s max TTL ahead.' }),
  connection: Type.String(),
  userId: Type.String(),
  orgId: Type.String(),
  apiVersion: Type.String({ description: 'REST API version configured for the connection, e.g. 62.0' }),
  flow: Type.Enum(FLOWS),
}, { $id: 'Session', additionalProperties: false })
