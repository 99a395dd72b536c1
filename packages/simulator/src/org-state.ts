import { newSalesforceId } from './ids.ts'
import { userPermissions } from './user-permissions.ts'
import type {
  SimConnectedApp, SimConnectedAppState, SimOrgOptions, SimOrgState, SimUser, SimUserState,
} from './types.ts'

/**
 * "Salesforce is retiring the OAuth 2.0 Username-Password Flow for Connected Apps … When this update is
 * enforced [February 20, 2027], integrations using this flow will stop working" (Salesforce Help 005461976).
 * The hour is not announced: the day's first millisecond, UTC.
 */
export const OAUTH_PASSWORD_FLOW_RETIRED_AT = Date.UTC(2027, 1, 20)

/** Each org's time: the simulator's clock, kept beside the org so every policy that has the org can read it. */
const clocks = new WeakMap<SimOrgState, () => number>()

/** The org's time now, epoch ms (the simulator's `now` option, else the real time). */
export function orgNow (org: SimOrgState): number {
  return (clocks.get(org) ?? Date.now)()
}

export function createUserState (user: SimUser, now: number): SimUserState {
  return {
    username: user.username,
    password: user.password,
    securityToken: user.securityToken,
    userId: user.userId ?? newSalesforceId('005'),
    active: user.active ?? true,
    passwordExpired: user.passwordExpired ?? false,
    apiEnabled: user.apiEnabled ?? true,
    loginIpRanges: user.loginIpRanges,
    loginHours: user.loginHours,
    permissions: userPermissions(user.permissions),
    lastPasswordChangeDate: user.lastPasswordChangeDate ?? now,
    hiddenUserFields: [...(user.hiddenUserFields ?? [])],
    loginHistory: [],
    failedLogins: 0,
    lockedUntil: 0,
    recentLogins: [],
  }
}

export function createAppState (app: SimConnectedApp): SimConnectedAppState {
  return {
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    certificatePem: app.certificatePem,
    permittedUsers: app.permittedUsers ?? 'all',
    preAuthorizedUsernames: app.preAuthorizedUsernames ?? [],
    userApprovedUsernames: app.userApprovedUsernames,
    clientCredentialsUser: app.clientCredentialsUser,
    installed: app.installed ?? true,
    appId: app.appId ?? newSalesforceId('0xI'),
    consumerId: app.consumerId ?? newSalesforceId('0Hk'),
    consumerSecretsViaRestApi: app.consumerSecretsViaRestApi ?? false,
    packaged: app.packaged ?? false,
    apiAccessAllowed: app.apiAccessAllowed ?? false,
    consumerKey: app.clientId,
    stagedCredentials: [],
  }
}

export function createOrgState (options: SimOrgOptions, now: () => number = Date.now): SimOrgState {
  const org: SimOrgState = {
    key: options.key,
    orgId: options.orgId ?? newSalesforceId('00D'),
    sessionTimeoutSeconds: options.sessionTimeoutSeconds ?? 7200,
    lockout: { maxAttempts: 5, durationSeconds: 900, ...options.lockout },
    passwordExpiresAfterDays: options.passwordExpiresAfterDays ?? 90,
    loginRatePerHour: options.loginRatePerHour ?? 3600,
    apiEnabled: options.apiEnabled ?? true,
    flows: { soap: true, oauthPassword: true, jwtBearer: true, clientCredentials: true, ...options.flows },
    trustedIpRanges: [...(options.trustedIpRanges ?? [])],
    apiRequestLimit: options.apiRequestLimit ?? 15000,
    apiAccessControl: options.apiAccessControl ?? false,
    blockOAuthUnPwFlow: options.blockOAuthUnPwFlow ?? false,
    oauthPasswordFlowRetiredAt: options.oauthPasswordFlowRetiredAt ?? OAUTH_PASSWORD_FLOW_RETIRED_AT,
    jwtAudienceIsHost: options.jwtAudienceIsHost ?? false,
    soapLoginRequiresUseAnyApiAuth: options.soapLoginRequiresUseAnyApiAuth ?? false,
    soapLoginRetired: options.soapLoginRetired ?? false,
    minApiVersion: options.minApiVersion ?? 31,
    apiRequestsUsed: 0,
    users: new Map((options.users ?? []).map(u => [u.username, createUserState(u, now())])),
    connectedApps: new Map((options.connectedApps ?? []).map(a => [a.clientId, createAppState(a)])),
  }
  clocks.set(org, now)
  return org
}

/** Salesforce usernames are case-insensitive. */
export function findUser (org: SimOrgState, username: string): SimUserState | undefined {
  const exact = org.users.get(username)
  if (exact) return exact
  const wanted = username.toLowerCase()
  for (const user of org.users.values()) {
    if (user.username.toLowerCase() === wanted) return user
  }
  return undefined
}

export function findUserById (org: SimOrgState, userId: string): SimUserState | undefined {
  for (const user of org.users.values()) {
    if (user.userId === userId) return user
  }
  return undefined
}

/** Whether the user is locked right now, without the side effect of clearing an expired lock. */
export function isLockedOutView (user: SimUserState, now: number): boolean {
  return now < user.lockedUntil
}
