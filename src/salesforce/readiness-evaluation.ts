/**
 * The integration-user checklist as a pure function: facts Salesforce reported (user-readiness.ts)
 * and what the connection declares in, findings out. No I/O, no clock: `now` is an argument.
 */
import type { ReadinessRequirements, UserFacts } from './user-readiness.ts'

const DAY_MS = 86_400_000

/** Setup labels of the permissions integration guides name; any other is shown by its API name. */
const LABELS: Record<string, string> = {
  PermissionsApiEnabled: 'API Enabled',
  PermissionsApiUserOnly: 'API Only User',
  PermissionsModifyAllData: 'Modify All Data',
  PermissionsViewAllData: 'View All Data',
  PermissionsCustomizeApplication: 'Customize Application',
  PermissionsManageProfilesPermissionsets: 'Manage Profiles and Permission Sets',
  PermissionsManageUsers: 'Manage Users',
  PermissionsViewSetup: 'View Setup and Configuration',
  PermissionsPasswordNeverExpires: 'Password Never Expires',
  PermissionsAuthorApex: 'Author Apex',
  PermissionsViewAllUsers: 'View All Users',
  PermissionsBulkApiHardDelete: 'Bulk API Hard Delete',
}

export function permissionLabel (name: string): string {
  return LABELS[name] ?? name.replace(/^Permissions/, '')
}

export interface MissingPermission {
  /** the UserPermissionAccess field */
  permission: string
  /** the Setup label */
  label: string
  /** where an admin grants it */
  grantIn: string
}

export interface ExcessPermission {
  /** the UserPermissionAccess field */
  permission: string
  /** the Setup label */
  label: string
}

export interface ReadinessReport {
  status: 'ok' | 'warn'
  /** epoch ms of the reading */
  checkedAt: number
  missingPermissions: MissingPermission[]
  /**
   * privileged rights the user holds beyond requiredPermissions; absent when the connection declares
   * no requiredPermissions (nothing to compare with) or Salesforce did not answer that query
   */
  excessPermissions?: ExcessPermission[]
  /** a declared name Salesforce does not know: fix the connection's requiredPermissions */
  unknownPermission?: string
  password?: {
    neverExpires: boolean
    /** epoch ms */
    lastChangedAt?: number
    /** epoch ms; absent when the password never expires or the change date is unknown */
    expiresAt?: number
    daysLeft?: number
  }
  /** the newest successful login Salesforce recorded (LoginHistory), when it let the user read it */
  lastLogin?: { at: number, sourceIp: string }
  /** one sentence per problem, worst first; empty when status is ok */
  findings: string[]
  /** what could not be read, in Salesforce's words */
  unreadable: string[]
}

export interface EvaluationOptions {
  now: number
  /** warn this many days before the password expires */
  warnDays: number
}

function grantIn (label: string): string {
  return `the user's profile (Setup > Profiles > [profile] > System Permissions > "${label}") or a permission set assigned to the user (Setup > Permission Sets > [set] > System Permissions)`
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export function evaluateReadiness (facts: UserFacts, requirements: ReadinessRequirements, opts: EvaluationOptions): ReadinessReport {
  const findings: string[] = []
  const missingPermissions: MissingPermission[] = []
  if (facts.permissions) {
    for (const permission of requirements.requiredPermissions) {
      if (facts.permissions[permission]) continue
      const label = permissionLabel(permission)
      missingPermissions.push({ permission, label, grantIn: grantIn(label) })
    }
    if (missingPermissions.length > 0) {
      findings.push(`the integration user lacks ${missingPermissions.map(m => `${m.label} (${m.permission})`).join(', ')}`)
    }
  } else if (facts.unknownPermission !== undefined) {
    findings.push(`Salesforce knows no permission ${facts.unknownPermission} (check requiredPermissions); the permissions were not checked`)
  } else if (requirements.requiredPermissions.length > 0) {
    findings.push('the permissions could not be checked')
  }

  const excessPermissions = facts.excessPermissions?.map(permission => ({ permission, label: permissionLabel(permission) }))
  if (excessPermissions && excessPermissions.length > 0) {
    findings.push(`the integration user holds rights the connection does not declare: ${excessPermissions.map(m => `${m.label} (${m.permission})`).join(', ')}`)
  }

  let password: ReadinessReport['password']
  if (requirements.passwordExpiresAfterDays !== undefined) {
    if (facts.passwordNeverExpires) {
      password = { neverExpires: true, ...(facts.lastPasswordChangeAt === undefined ? {} : { lastChangedAt: facts.lastPasswordChangeAt }) }
    } else if (facts.lastPasswordChangeAt !== undefined) {
      const expiresAt = facts.lastPasswordChangeAt + requirements.passwordExpiresAfterDays * DAY_MS
      const daysLeft = Math.ceil((expiresAt - opts.now) / DAY_MS)
      password = { neverExpires: false, lastChangedAt: facts.lastPasswordChangeAt, expiresAt, daysLeft }
      if (expiresAt <= opts.now) findings.push(`the password expired on ${isoDay(expiresAt)}`)
      else if (expiresAt - opts.now <= opts.warnDays * DAY_MS) findings.push(`the password expires on ${isoDay(expiresAt)} (in ${daysLeft} days)`)
    } else {
      password = { neverExpires: false }
      findings.push('the password expiry could not be checked (User.LastPasswordChangeDate is not readable)')
    }
  }

  return {
    status: findings.length > 0 ? 'warn' : 'ok',
    checkedAt: opts.now,
    missingPermissions,
    ...(excessPermissions ? { excessPermissions } : {}),
    ...(facts.unknownPermission === undefined ? {} : { unknownPermission: facts.unknownPermission }),
    ...(password ? { password } : {}),
    ...(facts.lastLogin ? { lastLogin: facts.lastLogin } : {}),
    findings,
    unreadable: facts.unreadable,
  }
}

/** One line for a health message or a problem's detail. */
export function readinessMessage (report: ReadinessReport): string {
  return `the login works, but ${report.findings.join('; ')}`
}

/** What to do about the findings, in Setup terms. */
export function readinessHint (report: ReadinessReport): string {
  const parts: string[] = []
  if (report.missingPermissions.length > 0) {
    parts.push(`Grant ${report.missingPermissions.map(m => `"${m.label}"`).join(', ')} in the user's profile or a permission set assigned to the user (Setup > Profiles or Setup > Permission Sets > System Permissions).`)
  }
  if (report.excessPermissions && report.excessPermissions.length > 0) {
    parts.push(`Least privilege: remove ${report.excessPermissions.map(m => `"${m.label}"`).join(', ')} from the user's profile and permission sets (every holder of the session can use them), or add them to requiredPermissions if the integration needs them.`)
  }
  if (report.unknownPermission !== undefined) parts.push('Use the field names of UserPermissionAccess (e.g. PermissionsModifyAllData) in requiredPermissions.')
  if (report.password?.expiresAt !== undefined && report.findings.some(f => f.startsWith('the password'))) {
    parts.push('Rotate the password (and the new security token) through PATCH /v1/admin/connections/{name}/credentials before it expires, or set "Password Never Expires" on the integration profile; an expired password makes Salesforce answer INVALID_OPERATION_WITH_EXPIRED_PASSWORD.')
  }
  if (report.findings.some(f => f.includes('could not be checked'))) parts.push(`Salesforce refused part of the check: ${report.unreadable.join('; ')}.`)
  return parts.join(' ')
}

/**
 * An ip_or_hours_restricted login names the settings that decide it, and the address Salesforce
 * last saw this user log in from, only when Salesforce reported one (LoginHistory).
 */
export function loginRestrictionHint (lastLogin: ReadinessReport['lastLogin'] | undefined): string {
  const settings = 'Salesforce refused the login for where or when it came from. Check the integration user\'s profile: Login IP Ranges and Login Hours (Setup > Profiles > [profile]); and the org\'s Network Access trusted IP ranges (Setup > Security > Network Access), which decide whether a login from an address needs the security token or a verification.'
  if (!lastLogin) return `${settings} Salesforce has not reported the broker's egress address (LoginHistory is readable with "Manage Users"); see Setup > Users > [user] > Login History.`
  return `${settings} Salesforce's LoginHistory shows the last successful login of this user from ${lastLogin.sourceIp} at ${new Date(lastLogin.at).toISOString()}, read right after a broker login: that address must be admitted.`
}
