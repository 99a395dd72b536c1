import { Type, type Static } from 'typebox'
import { LOGIN_RESULT_FIELDS } from './connection.ts'

const AppId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,80}$', description: 'The External Client App\'s identifier for Connect REST API (/apps/oauth/credentials/{appId}); default: the one in the rotation policy' })
const ClientId = Type.String({ minLength: 1, maxLength: 255, description: 'The staged consumer key (from Setup)' })
const ClientSecret = Type.String({ minLength: 1, maxLength: 1024, description: 'The staged consumer secret (write-only: never returned)' })

export const StartConsumerRotationSchema = Type.Union([Type.Object({
  appId: Type.Optional(AppId),
  mode: Type.Optional(Type.Union([Type.Literal('api'), Type.Literal('setup')], { description: 'api (default with an appId): the broker stages through Connect REST API; setup: the admin stages in Setup' })),
}, { additionalProperties: false }), Type.Null()])
export type StartConsumerRotation = Static<typeof StartConsumerRotationSchema>

export const ValidateConsumerRotationSchema = Type.Union([Type.Object({
  clientId: Type.Optional(ClientId),
  clientSecret: Type.Optional(ClientSecret),
}, { additionalProperties: false }), Type.Null()], { description: 'Setup mode: the staged pair Setup showed; API mode: nothing (the broker holds the staged pair)' })
export type ValidateConsumerRotation = Static<typeof ValidateConsumerRotationSchema>

export const ConsumerRotationSchema = Type.Object({
  connection: Type.String(),
  mode: Type.Union([Type.Literal('api'), Type.Literal('setup')], { description: 'api: the broker makes every call at Salesforce; setup: the admin makes the Setup steps, the broker checks each' }),
  step: Type.Union([Type.Literal('staged'), Type.Literal('validated'), Type.Literal('switched'), Type.Literal('done')]),
  setupReason: Type.Optional(Type.String({ description: 'Why the broker cannot make the Salesforce calls itself' })),
  appId: Type.Optional(Type.String()),
  oldClientId: Type.String({ description: 'The consumer key before the rotation' }),
  newClientId: Type.Optional(Type.String({ description: 'The staged consumer key' })),
  fromVersion: Type.Integer({ description: 'The connection version before the switch (roll back to it with POST …/rollback)' }),
  switchedVersion: Type.Optional(Type.Integer()),
  startedAt: Type.String({ format: 'date-time' }),
  steps: Type.Array(Type.String(), { description: 'The steps of this rotation, in order (Setup mode: what the admin does in Setup)' }),
  nextStep: Type.String(),
  pending: Type.Optional(Type.Array(Type.String(), { description: 'What did not happen yet (a 200 with pending: the switch is made, these are not)' })),
}, { $id: 'ConsumerRotation', additionalProperties: false })
export type ConsumerRotationView = Static<typeof ConsumerRotationSchema>

export const ConsumerValidationSchema = Type.Object({
  ...LOGIN_RESULT_FIELDS,
  nextStep: Type.String(),
  rotation: Type.Ref('ConsumerRotation'),
}, { additionalProperties: false })
export type ConsumerValidation = Static<typeof ConsumerValidationSchema>

export const ConsumerPolicySchema = Type.Object({
  appId: AppId,
  rotateEveryDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'The scheduler rotates through the API this many days after the last rotation (needs the rights for API mode)' })),
  lastRotatedAt: Type.Optional(Type.String({ format: 'date-time' })),
}, { additionalProperties: false })
export type ConsumerPolicyBody = Static<typeof ConsumerPolicySchema>
