import { Type, type Static } from 'typebox'
import type { ReadinessReport } from '../salesforce/readiness-evaluation.ts'

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * The integration user's readiness as an admin sees it in /health/salesforce: which declared
 * permissions are missing (and where to grant them), when the password expires, and the address
 * Salesforce last saw the user log in from. Admin detail: not for the public view.
 */
export const ReadinessViewSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('warn')]),
  checkedAt: Type.String({ format: 'date-time', description: 'When the last full check read it' }),
  missingPermissions: Type.Array(Type.Object({
    permission: Type.String({ description: 'The UserPermissionAccess field, e.g. PermissionsModifyAllData' }),
    label: Type.String({ description: 'Its name in Setup' }),
    grantIn: Type.String({ description: 'Where an admin grants it: the profile or a permission set' }),
  }, { additionalProperties: false })),
  excessPermissions: Type.Optional(Type.Array(Type.Object({
    permission: Type.String({ description: 'The UserPermissionAccess field, e.g. PermissionsModifyAllData' }),
    label: Type.String({ description: 'Its name in Setup' }),
  }, { additionalProperties: false }), { description: 'Privileged rights the user holds beyond requiredPermissions (least privilege); absent when the connection declares no requiredPermissions' })),
  unknownPermission: Type.Optional(Type.String({ description: 'A declared name Salesforce does not know (INVALID_FIELD)' })),
  password: Type.Optional(Type.Object({
    neverExpires: Type.Boolean({ description: 'PermissionsPasswordNeverExpires of the user' }),
    lastChangedAt: Type.Optional(Type.String({ format: 'date-time', description: 'User.LastPasswordChangeDate' })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'LastPasswordChangeDate + passwordExpiresAfterDays' })),
    daysLeft: Type.Optional(Type.Integer()),
  }, { additionalProperties: false })),
  lastLogin: Type.Optional(Type.Object({
    at: Type.String({ format: 'date-time' }),
    sourceIp: Type.String({ description: 'The source IP of the newest successful login in LoginHistory' }),
  }, { additionalProperties: false })),
  findings: Type.Array(Type.String()),
  unreadable: Type.Array(Type.String({ description: 'What Salesforce refused to tell, in its words' })),
}, { additionalProperties: false, description: 'Integration-user readiness (admin detail), present when the connection declares requiredPermissions or passwordExpiresAfterDays' })
export type ReadinessView = Static<typeof ReadinessViewSchema>

export function readinessView (r: ReadinessReport): ReadinessView {
  return {
    status: r.status,
    checkedAt: iso(r.checkedAt),
    missingPermissions: r.missingPermissions.map(m => ({ permission: m.permission, label: m.label, grantIn: m.grantIn })),
    ...(r.excessPermissions ? { excessPermissions: r.excessPermissions.map(m => ({ permission: m.permission, label: m.label })) } : {}),
    ...(r.unknownPermission === undefined ? {} : { unknownPermission: r.unknownPermission }),
    ...(r.password
      ? {
          password: {
            neverExpires: r.password.neverExpires,
            ...(r.password.lastChangedAt === undefined ? {} : { lastChangedAt: iso(r.password.lastChangedAt) }),
            ...(r.password.expiresAt === undefined ? {} : { expiresAt: iso(r.password.expiresAt) }),
            ...(r.password.daysLeft === undefined ? {} : { daysLeft: r.password.daysLeft }),
          },
        }
      : {}),
    ...(r.lastLogin ? { lastLogin: { at: iso(r.lastLogin.at), sourceIp: r.lastLogin.sourceIp } } : {}),
    findings: [...r.findings],
    unreadable: [...r.unreadable],
  }
}
