import { DomainError } from '../errors.ts'
import type { ReadinessReport } from '../salesforce/readiness-evaluation.ts'

/**
 * Admin validation's use of the readiness report: a user that lacks a declared permission (or a
 * declared name Salesforce does not know) is refused with 422 and the list of what to grant where;
 * anything else the report found (a password expiring soon) is a warning, not a refusal.
 */
export function lacksPermissions (report: ReadinessReport | null): report is ReadinessReport {
  return report !== null && (report.missingPermissions.length > 0 || report.unknownPermission !== undefined)
}

export function permissionsProblem (name: string, report: ReadinessReport, stored: boolean): DomainError {
  const first = report.findings[0] ?? 'the integration user is not ready'
  return new DomainError('permissions_missing', `the login works, but ${first}${stored ? '' : '; nothing was stored'}`, {
    connection: name,
    classification: 'permissions_missing',
    hint: report.unknownPermission !== undefined
      ? 'Use the field names of UserPermissionAccess (e.g. PermissionsModifyAllData) in requiredPermissions.'
      : 'Grant each missing permission in the user\'s profile or in a permission set assigned to the user, then validate again.',
    missingPermissions: report.missingPermissions.map(m => ({ permission: m.permission, label: m.label, grantIn: m.grantIn })),
    ...(report.unknownPermission === undefined ? {} : { unknownPermission: report.unknownPermission }),
  })
}

/** Findings that do not refuse the validation, said in its answer. */
export function readinessWarnings (report: ReadinessReport | null): string[] {
  if (!report || report.status === 'ok') return []
  return report.findings.filter(f => !f.includes('lacks') && !f.includes('knows no permission'))
}
