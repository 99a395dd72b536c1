import { ipInRanges } from './cidr.ts'
import { findUser, orgNow } from './org-state.ts'
import type { SimOrgState, SimUserState } from './types.ts'
import { recordLogin } from './user-permissions.ts'

/**
 * Why a login was refused, before it is put in a wire format. Several reasons deliberately
 * share one wire answer (a locked user and a wrong password both say INVALID_LOGIN).
 */
export type LoginRefusal =
  | 'invalid_login'
  | 'locked_out'
  | 'security_token_required'
  | 'inactive_user'
  | 'api_disabled_user'
  | 'ip_restricted'
  | 'hours_restricted'
  | 'rate_exceeded'
  | 'flow_disabled'

export type LoginDecision =
  | { ok: true, user: SimUserState }
  | { ok: false, refusal: LoginRefusal, user?: SimUserState }

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** Counts the attempt against the per-user hourly login rate; false when the rate is exceeded. */
function admitAttempt (org: SimOrgState, user: SimUserState, now: number): boolean {
  user.recentLogins = user.recentLogins.filter(t => now - t < HOUR_MS)
  if (user.recentLogins.length >= org.loginRatePerHour) return false
  user.recentLogins.push(now)
  return true
}

/** A lock ends by itself after the org's lockout duration (the failure count started over when it began), or never. */
export function isLockedOut (user: SimUserState, now: number): boolean {
  if (user.lockedUntil !== 0 && now >= user.lockedUntil) user.lockedUntil = 0
  return now < user.lockedUntil
}

/**
 * Password Policies (Salesforce Help, "Set Password Policies"): "When the maximum number of failed login
 * attempts is reached, the counter resets and the user's account is locked"; the lockout effective period is
 * 15 minutes to "Forever (must be reset by admin)" — durationSeconds 0 here (an admin's Unlock: the control
 * API's PATCH users/NAME {locked: false}).
 */
export function lockUntil (org: SimOrgState, now: number): number {
  return org.lockout.durationSeconds > 0 ? now + org.lockout.durationSeconds * 1000 : Number.POSITIVE_INFINITY
}

function recordBadPassword (org: SimOrgState, user: SimUserState, now: number): void {
  user.failedLogins++
  if (org.lockout.maxAttempts > 0 && user.failedLogins >= org.lockout.maxAttempts) {
    user.lockedUntil = lockUntil(org, now)
    user.failedLogins = 0
  }
}

/**
 * Password Policies, "User passwords expire in": "the length of time until all user passwords expire and
 * must be changed. Users with the Password Never Expires permission are not affected" (Salesforce Help,
 * "Set Password Policies"; 90 days unless the admin picks another period). The password stays expired until
 * it is changed (a reset over the control API, or PATCH password).
 */
function expirePassword (org: SimOrgState, user: SimUserState, now: number): void {
  if (org.passwordExpiresAfterDays <= 0 || user.permissions.PermissionsPasswordNeverExpires === true) return
  if (now >= user.lastPasswordChangeDate + org.passwordExpiresAfterDays * DAY_MS) user.passwordExpired = true
}

/** Inside the org's trusted ranges or the profile's Login IP Ranges, the security token may be left off. */
function tokenOptional (org: SimOrgState, user: SimUserState, clientIp: string): boolean {
  return ipInRanges(clientIp, org.trustedIpRanges) ||
    (user.loginIpRanges !== undefined && ipInRanges(clientIp, user.loginIpRanges))
}

function checkSecret (org: SimOrgState, user: SimUserState, supplied: string, clientIp: string): 'ok' | 'token_missing' | 'bad' {
  if (supplied === user.password + user.securityToken) return 'ok'
  if (supplied === user.password) return tokenOptional(org, user, clientIp) ? 'ok' : 'token_missing'
  return 'bad'
}

function withinLoginHours (hours: { startHour: number, endHour: number }, now: number): boolean {
  const hour = new Date(now).getUTCHours()
  const { startHour, endHour } = hours
  if (startHour === endHour) return true
  return startHour < endHour ? hour >= startHour && hour < endHour : hour >= startHour || hour < endHour
}

/** Checks that apply to every flow once Salesforce knows who the user is. */
function checkUserPolicies (user: SimUserState, clientIp: string, now: number): LoginRefusal | undefined {
  if (!user.active) return 'inactive_user'
  if (user.loginIpRanges && user.loginIpRanges.length > 0 && !ipInRanges(clientIp, user.loginIpRanges)) return 'ip_restricted'
  if (user.loginHours && !withinLoginHours(user.loginHours, now)) return 'hours_restricted'
  if (!user.apiEnabled) return 'api_disabled_user'
  return undefined
}

/** SOAP login() and the OAuth username-password flow: the password (+ token) is the credential. */
export function decidePasswordLogin (org: SimOrgState, username: string, supplied: string, clientIp: string, flowEnabled: boolean, now = orgNow(org)): LoginDecision {
  const user = findUser(org, username)
  if (!flowEnabled) return { ok: false, refusal: 'flow_disabled', user }
  if (!user) return { ok: false, refusal: 'invalid_login' }
  if (!admitAttempt(org, user, now)) return { ok: false, refusal: 'rate_exceeded', user }
  if (isLockedOut(user, now)) return { ok: false, refusal: 'locked_out', user }
  const secret = checkSecret(org, user, supplied, clientIp)
  if (secret !== 'ok') {
    recordBadPassword(org, user, now)
    return { ok: false, refusal: secret === 'token_missing' ? 'security_token_required' : 'invalid_login', user }
  }
  user.failedLogins = 0
  expirePassword(org, user, now)
  return admitted(user, clientIp, now)
}

/** JWT bearer and client credentials: the app vouches for the user; no password, so no lockout. */
export function decideDelegatedLogin (org: SimOrgState, user: SimUserState, clientIp: string, now = orgNow(org)): LoginDecision {
  if (!admitAttempt(org, user, now)) return { ok: false, refusal: 'rate_exceeded', user }
  return admitted(user, clientIp, now)
}

/** The profile's policies decide; a login they let through goes into the user's LoginHistory. */
function admitted (user: SimUserState, clientIp: string, now: number): LoginDecision {
  const refusal = checkUserPolicies(user, clientIp, now)
  if (refusal) return { ok: false, refusal, user }
  recordLogin(user, clientIp, now)
  return { ok: true, user }
}
