import type { SimUserState } from './types.ts'

/**
 * The system permissions the simulated org knows, as fields of UserPermissionAccess ("represents
 * the permissions of the current user", Object Reference; API 28.0+). Real orgs have a few hundred;
 * these are the ones integration-user checklists name, plus a few neighbours. A query naming any
 * other Permissions… column is answered INVALID_FIELD, as Salesforce answers a misspelled one.
 */
export const USER_PERMISSION_FIELDS = [
  'PermissionsApiEnabled',
  'PermissionsApiUserOnly',
  'PermissionsModifyAllData',
  'PermissionsViewAllData',
  'PermissionsCustomizeApplication',
  'PermissionsManageProfilesPermissionsets',
  'PermissionsManageUsers',
  'PermissionsViewSetup',
  'PermissionsViewAllUsers',
  'PermissionsAuthorApex',
  'PermissionsManageDataIntegrations',
  'PermissionsBulkApiHardDelete',
  'PermissionsPasswordNeverExpires',
  // "Use Any API Auth" (Summer '26, needed for SOAP login() in new orgs); the field name is the label's, by Salesforce's convention
  'PermissionsUseAnyApiAuth',
  // API Access Control's exemption "Use Any API Client"; the External Client App staged-credentials
  // permissions "External Client App Developer" and "View Client Secret"; Metadata API reads
  // ("Modify Metadata Through Metadata API Functions"): named after their labels, as above
  'PermissionsUseAnyApiClient',
  'PermissionsExternalClientAppDeveloper',
  'PermissionsViewClientSecret',
  'PermissionsModifyMetadata',
] as const

const KNOWN = new Set<string>(USER_PERMISSION_FIELDS)

export function isUserPermissionField (name: string): boolean {
  return KNOWN.has(name)
}

/** Every known permission but API Enabled (the user's `apiEnabled` is its one source), false unless granted. */
export function userPermissions (granted: Record<string, boolean> = {}): Record<string, boolean> {
  const unknown = Object.keys(granted).filter(name => !KNOWN.has(name))
  if (unknown.length > 0) throw new Error(`unknown UserPermissionAccess field(s): ${unknown.join(', ')} (known: ${USER_PERMISSION_FIELDS.join(', ')})`)
  const permissions: Record<string, boolean> = {}
  for (const name of USER_PERMISSION_FIELDS) {
    if (name !== 'PermissionsApiEnabled') permissions[name] = granted[name] === true
  }
  return permissions
}

/** The one UserPermissionAccess row of the running user. */
export function permissionRow (user: SimUserState): Record<string, boolean> {
  return { PermissionsApiEnabled: user.apiEnabled, ...user.permissions }
}

/**
 * A profile edit or a permission-set (un)assignment: changes the user's effective permissions.
 * PermissionsApiEnabled changes `apiEnabled`, so the next login sees it too.
 */
export function editPermissions (user: SimUserState, changes: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(changes)) {
    if (!KNOWN.has(name)) throw new Error(`unknown UserPermissionAccess field '${name}'`)
    if (typeof value !== 'boolean') throw new Error(`'${name}' must be a boolean`)
  }
  for (const [name, value] of Object.entries(changes) as Array<[string, boolean]>) {
    if (name === 'PermissionsApiEnabled') user.apiEnabled = value
    else user.permissions[name] = value
  }
}

const LOGIN_HISTORY_KEPT = 20

/** LoginHistory: Salesforce keeps six months; the simulator keeps the last few successful logins. */
export function recordLogin (user: SimUserState, sourceIp: string, now: number): void {
  user.loginHistory.push({ loginTime: now, sourceIp })
  if (user.loginHistory.length > LOGIN_HISTORY_KEPT) user.loginHistory.splice(0, user.loginHistory.length - LOGIN_HISTORY_KEPT)
}
