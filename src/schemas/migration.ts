import { Type, type Static } from 'typebox'
import { LOGIN_RESULT_FIELDS } from './connection.ts'

const Target = Type.Union([Type.Literal('jwt_bearer'), Type.Literal('client_credentials')], { description: 'The surviving flow to move to' })
const LoginUrl = Type.String({ maxLength: 255, pattern: '^https?://[^\\s/?#@\\u0000-\\u001f\\u007f-\\u009f]+/?$', description: 'Login host origin; client_credentials needs the org\'s My Domain (https://<domain>.my.salesforce.com)' })
const Username = Type.String({ minLength: 1, maxLength: 255, description: 'The integration user (jwt_bearer); default: the connection\'s' })
const ClientId = Type.String({ minLength: 1, maxLength: 255, description: 'Consumer key of the External Client App or connected app' })
const ClientSecret = Type.String({ minLength: 1, maxLength: 1024, description: 'Consumer secret (client_credentials; write-only: never returned)' })

export const StartMigrationSchema = Type.Object({
  flow: Target,
  loginUrl: Type.Optional(LoginUrl),
  username: Type.Optional(Username),
  clientId: Type.Optional(ClientId),
  clientSecret: Type.Optional(ClientSecret),
}, { additionalProperties: false, description: 'jwt_bearer: the broker creates the key and certificate (a jwt_bearer connection gets a new key: a rotation). client_credentials: loginUrl must be a My Domain.' })
export type StartMigration = Static<typeof StartMigrationSchema>

export const ValidateMigrationSchema = Type.Union([Type.Object({
  clientId: Type.Optional(ClientId),
  username: Type.Optional(Username),
  clientSecret: Type.Optional(ClientSecret),
}, { additionalProperties: false }), Type.Null()], { description: 'What Setup gave since the start (the consumer key…): stored in the pending definition before the login' })
export type ValidateMigration = Static<typeof ValidateMigrationSchema>

export const CertificateInfoSchema = Type.Object({
  pem: Type.String({ description: 'The X.509 certificate to upload ("Use digital signatures"); public' }),
  notAfter: Type.String({ format: 'date-time' }),
  fingerprint256: Type.String(),
  keyCustody: Type.Union([Type.Literal('store'), Type.Literal('vault-transit')], { description: 'store: the key is a secret field of the connection; vault-transit: it never leaves Vault Transit' }),
  transitKey: Type.Optional(Type.String({ description: 'The Vault Transit key that signs (vault-transit)' })),
}, { additionalProperties: false })

export const MigrationSchema = Type.Object({
  connection: Type.String(),
  from: Type.Object({ flow: Type.String(), version: Type.Integer({ description: 'The current version, kept for rollback after the switch' }) }, { additionalProperties: false }),
  to: Type.Object({
    flow: Target,
    loginUrl: Type.String(),
    username: Type.Optional(Type.String()),
    clientId: Type.Optional(Type.String()),
    secretsSet: Type.Array(Type.String()),
  }, { additionalProperties: false }),
  rotation: Type.Boolean({ description: 'A new key and certificate for a connection already on jwt_bearer' }),
  certificate: Type.Optional(CertificateInfoSchema),
  checklist: Type.Array(Type.String(), { description: 'The setup steps in Salesforce, in order' }),
  updatedAt: Type.String({ format: 'date-time' }),
  pendingVersion: Type.Integer(),
  nextStep: Type.String(),
}, { $id: 'Migration', additionalProperties: false })
export type MigrationView = Static<typeof MigrationSchema>

export const MigrationValidationSchema = Type.Object({
  ...LOGIN_RESULT_FIELDS,
  nextStep: Type.String({ description: 'The one thing to do next' }),
  migration: Type.Ref('Migration'),
}, { additionalProperties: false })
export type MigrationValidation = Static<typeof MigrationValidationSchema>

export const MigrationCompletedSchema = Type.Object({
  connection: Type.Ref('ConnectionMetadata'),
  previousVersion: Type.Integer({ description: 'Roll back with POST …/rollback {"version": previousVersion}' }),
}, { additionalProperties: false })
