import { Type, type Static } from 'typebox'
import { NO_CONTROL_CHARACTERS_PATTERN } from '../salesforce/control-characters.ts'
import { CLASSIFICATIONS, FLOWS } from '../salesforce/types.ts'

const Flow = Type.Enum(FLOWS, { description: 'soap and oauth_password are being retired by Salesforce; prefer jwt_bearer or client_credentials' })
const Secret = (description: string, maxLength = 1024) => Type.String({ minLength: 1, maxLength, description: `${description} (write-only: never returned)` })

/** What the integration user must have; checked after every validating login (README: the integration-user checklist). */
const readinessFields = {
  requiredPermissions: Type.Optional(Type.Array(
    Type.String({ pattern: '^Permissions[A-Za-z0-9]{1,80}$', description: 'A UserPermissionAccess field, e.g. PermissionsModifyAllData' }),
    { maxItems: 50, uniqueItems: true, description: 'System permissions the integration needs, as Salesforce names them on UserPermissionAccess (PermissionsApiEnabled, PermissionsModifyAllData, PermissionsCustomizeApplication, PermissionsManageProfilesPermissionsets…); a missing one makes validation answer 422 and health warn' }
  )),
  passwordExpiresAfterDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: "The org's Password Policies \"User passwords expire in\" (30, 60, 90, 180 or 365 days), for soap and oauth_password: health shows when the password expires and warns ahead" })),
}

const definitionFields = {
  flow: Flow,
  loginUrl: Type.String({ maxLength: 255, pattern: '^https?://[^\\s/?#@\\u0000-\\u001f\\u007f-\\u009f]+/?$', description: 'Login host origin: https://login.salesforce.com, https://test.salesforce.com or https://<domain>.my.salesforce.com' }),
  // stored text is printed by sfb and shown in health: no terminal control characters
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: NO_CONTROL_CHARACTERS_PATTERN, description: 'Integration user (soap, oauth_password, jwt_bearer)' })),
  apiVersion: Type.String({ pattern: '^[0-9]{2,3}\\.0$', description: 'REST API version, e.g. 62.0' }),
  sessionTimeoutSeconds: Type.Integer({ minimum: 60, maximum: 86400, description: "The org's session timeout (Setup > Session Settings)" }),
  auditSessions: Type.Optional(Type.Boolean({ description: 'Audit each session handed out: caller, secret version, a short token fingerprint (never the token), expiry. Default true.' })),
  clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: NO_CONTROL_CHARACTERS_PATTERN, description: 'Connected app consumer key' })),
  jwtAudience: Type.Optional(Type.String({ maxLength: 255, pattern: '^https?://[^\\s/?#@]+$', description: 'jwt_bearer: the assertion\'s aud. Default: the origin of loginUrl (the org\'s My Domain, or login/test.salesforce.com themselves), the host the assertion is posted to, which External Client Apps require and connected apps accept. Set it only to override (a proxy in front of Salesforce)' })),
  ...readinessFields,
}
const secretFields = {
  password: Type.Optional(Secret('Password of the integration user')),
  securityToken: Type.Optional(Secret('Security token (appended to the password)', 255)),
  clientSecret: Type.Optional(Secret('Connected app consumer secret')),
  privateKey: Type.Optional(Secret('PEM private key for jwt_bearer', 16384)),
}

/** PUT body: a whole connection, secrets included. */
export const ConnectionDefinitionSchema = Type.Object({ ...definitionFields, ...secretFields }, { additionalProperties: false })

/** PATCH …/credentials body: only what changes (e.g. just the security token after a reset). */
export const CredentialsPatchSchema = Type.Object({
  username: definitionFields.username,
  clientId: definitionFields.clientId,
  ...secretFields,
}, { additionalProperties: false, minProperties: 1 })
export type CredentialsPatch = Static<typeof CredentialsPatchSchema>

export const CircuitSchema = Type.Object({
  state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')]),
  classification: Type.Optional(Type.String()),
  failures: Type.Optional(Type.Integer()),
  retryAt: Type.Optional(Type.String({ format: 'date-time' })),
}, { additionalProperties: false })

/** A write that succeeded but will not keep working: the flow's announced end. */
export const FlowWarningSchema = Type.Object({
  type: Type.Literal('flow_sunset'),
  flow: Flow,
  date: Type.String({ format: 'date', description: 'The day Salesforce stops (or stopped) the flow' }),
  daysLeft: Type.Integer({ description: '0 or less once the day has passed' }),
  message: Type.String(),
}, { additionalProperties: false })
export type FlowWarning = Static<typeof FlowWarningSchema>

/** What admins see of a connection: never a secret, only which secrets are set. */
export const ConnectionMetadataSchema = Type.Object({
  name: Type.String(),
  flow: Flow,
  loginUrl: Type.String(),
  username: Type.Optional(Type.String()),
  clientId: Type.Optional(Type.String()),
  jwtAudience: Type.Optional(Type.String()),
  apiVersion: Type.String(),
  sessionTimeoutSeconds: Type.Integer(),
  auditSessions: Type.Boolean({ description: 'Whether sessions handed out are audited (session.issued events)' }),
  requiredPermissions: Type.Optional(Type.Array(Type.String())),
  passwordExpiresAfterDays: Type.Optional(Type.Integer()),
  acceptRetiredFlow: Type.Optional(Type.Boolean({ description: 'Set by PUT …?acceptRetiredFlow=true: logins go on after the announced end of the flow (an org whose date is later); otherwise a session request then answers 503 flow_retired without a login' })),
  version: Type.Integer({ description: 'Secret version in the store' }),
  updatedAt: Type.String({ format: 'date-time' }),
  secretsSet: Type.Array(Type.String(), { description: 'Names of the secret fields that have a value' }),
  circuit: CircuitSchema,
  warnings: Type.Optional(Type.Array(FlowWarningSchema, { description: 'Only in the answer to a write: the flow\'s announced end (soap, oauth_password)' })),
  pending: Type.Optional(Type.Array(Type.String(), { description: 'Only in the answer to a write: what has not happened everywhere yet (the answer is then 202)' })),
}, { $id: 'ConnectionMetadata', additionalProperties: false })

/** What one login attempt answers an admin: shared by connection validation and migration validation. */
export const LOGIN_RESULT_FIELDS = {
  ok: Type.Boolean(),
  classification: Type.Enum(CLASSIFICATIONS),
  message: Type.Optional(Type.String()),
  hint: Type.Optional(Type.String()),
  retryable: Type.Optional(Type.Boolean()),
  latencyMs: Type.Integer(),
}

export const ValidationResultSchema = Type.Object({
  ...LOGIN_RESULT_FIELDS,
  source: Type.Union([Type.Literal('candidate'), Type.Literal('stored')]),
  warnings: Type.Optional(Type.Array(Type.String(), { description: 'What the integration-user check found that does not refuse the validation (a password expiring soon)' })),
}, { $id: 'ValidationResult', additionalProperties: false })

export const VersionSchema = Type.Object({
  version: Type.Integer(),
  createdTime: Type.String({ format: 'date-time' }),
  deletionTime: Type.Optional(Type.String({ format: 'date-time' })),
  destroyed: Type.Boolean(),
  current: Type.Boolean(),
}, { additionalProperties: false })

export const RollbackSchema = Type.Object({
  version: Type.Integer({ minimum: 1, description: 'The earlier version whose content becomes the new current version' }),
}, { additionalProperties: false })

export const AuditEventSchema = Type.Object({
  id: Type.String(),
  time: Type.String({ format: 'date-time' }),
  actor: Type.String(),
  action: Type.String(),
  connection: Type.Optional(Type.String()),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('rejected'), Type.Literal('conflict'), Type.Literal('error')]),
  classification: Type.Optional(Type.String()),
  version: Type.Optional(Type.Integer()),
  fromVersion: Type.Optional(Type.Integer()),
  targetVersion: Type.Optional(Type.Integer({ description: 'connection.rollback: the earlier version whose content was restored' })),
  fields: Type.Optional(Type.Array(Type.String())),
  target: Type.Optional(Type.String({ description: 'Origin a login caused by this action was sent to' })),
  tokenFingerprint: Type.Optional(Type.String({ description: 'session.issued: first 12 hex digits of the SHA-256 of the access token (never the token)' })),
  expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'session.issued: when the caller was told to come back' })),
  requestId: Type.Optional(Type.String()),
}, { $id: 'AuditEvent', additionalProperties: false })
export type AuditEvent = Static<typeof AuditEventSchema>
