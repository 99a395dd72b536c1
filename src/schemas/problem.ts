import { Type } from 'typebox'
import { PROBLEM_CONTENT_TYPE, PROBLEMS, type ProblemCode } from '../errors.ts'

/** RFC 9457 problem details, the one error shape of every route. */
export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'Stable URI of the problem kind: urn:sf-broker:problem:<code>' }),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String({ description: 'The <code> part of type, for switch statements' }),
  detail: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  connection: Type.Optional(Type.String()),
  classification: Type.Optional(Type.String({ description: 'Salesforce failure class (see /health/salesforce)' })),
  hint: Type.Optional(Type.String({ description: 'What an admin should check in Salesforce Setup' })),
  retryable: Type.Optional(Type.Boolean()),
  currentVersion: Type.Optional(Type.Integer()),
  changedFields: Type.Optional(Type.Array(Type.String(), { description: 'credentials_rejected after a rotation: the fields the rotation sent (names only)' })),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  missingPermissions: Type.Optional(Type.Array(Type.Object({
    permission: Type.String({ description: 'The UserPermissionAccess field' }),
    label: Type.String({ description: 'Its name in Setup' }),
    grantIn: Type.String({ description: 'Where to grant it: the profile or a permission set' }),
  }), { description: 'permissions_missing: the declared permissions the integration user lacks' })),
  unknownPermission: Type.Optional(Type.String({ description: 'permissions_missing: a declared permission name Salesforce does not know' })),
  failures: Type.Optional(Type.Integer({ description: 'login_guarded: failed logins of the Salesforce user counted inside the lockout window' })),
  lockoutThreshold: Type.Optional(Type.Integer({ description: "login_guarded: the org's Maximum invalid login attempts the broker assumes (LOCKOUT_THRESHOLD)" })),
  safeAt: Type.Optional(Type.String({ format: 'date-time', description: 'When logins for this user are possible again' })),
  loginsUsed: Type.Optional(Type.Integer({ description: 'login_budget_exhausted: logins spent for the user in the rolling hour' })),
  loginsLimit: Type.Optional(Type.Integer({ description: 'login_budget_exhausted: SALESFORCE_LOGINS_PER_HOUR' })),
  requiredRole: Type.Optional(Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')], { description: 'forbidden on an admin operation: the least role of the admin principal it needs' })),
  requiredRule: Type.Optional(Type.Object({
    api: Type.String(),
    methods: Type.Array(Type.String()),
    objects: Type.Optional(Type.Array(Type.String())),
  }, { description: 'policy_denied: a rule that would allow the call, to add to the grant' })),
  quota: Type.Optional(Type.Object({
    period: Type.Union([Type.Literal('minute'), Type.Literal('day')]),
    limit: Type.Integer(),
  }, { description: 'proxy_quota_exceeded: the cap that is used up' })),
}, { $id: 'Problem', additionalProperties: false })

/** Response schema entries for the problems a route can answer with, keyed by status. */
export function problemResponses (...codes: ProblemCode[]): Record<number, unknown> {
  const byStatus: Record<number, string[]> = {}
  for (const code of codes) {
    const { status, title } = PROBLEMS[code]
    ;(byStatus[status] ??= []).push(`${code}: ${title}`)
  }
  const out: Record<number, unknown> = {}
  for (const [status, descriptions] of Object.entries(byStatus)) {
    out[Number(status)] = {
      description: descriptions.join('; '),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } },
    }
  }
  return out
}

/** Problems every route can answer with, whatever it does (malformed_request and request_timeout come from Node before any route, so no route lists them). */
export const COMMON_PROBLEMS: ProblemCode[] = ['bad_request', 'malformed_json', 'malformed_url', 'payload_too_large', 'uri_too_long', 'unsupported_media_type', 'headers_too_large', 'internal']
