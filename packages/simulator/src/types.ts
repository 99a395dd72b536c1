/**
 * Public vocabulary of the Salesforce simulator: how tests describe an org (options) and the
 * live, mutable state the simulator enforces (SimOrgState). Options are plain data; the state
 * has every default applied so tests can flip one policy at a time.
 */

export interface SimUser {
  username: string
  password: string
  securityToken: string
  /** 18-char '005…' id; generated if absent. */
  userId?: string
  /** default true; false -> inactive user */
  active?: boolean
  /** default false */
  passwordExpired?: boolean
  /** profile permission "API Enabled", default true */
  apiEnabled?: boolean
  /** profile Login IP Ranges (CIDR); if set and the client IP is outside -> restricted */
  loginIpRanges?: string[]
  /** profile Login Hours in UTC; outside -> restricted */
  loginHours?: { startHour: number, endHour: number }
  /**
   * Effective system permissions (profile plus permission sets) as UserPermissionAccess names them,
   * e.g. { PermissionsModifyAllData: true }. Absent ones are false; PermissionsApiEnabled follows `apiEnabled`.
   */
  permissions?: Record<string, boolean>
  /** User.LastPasswordChangeDate, epoch ms; default: when the org state was created */
  lastPasswordChangeDate?: number
  /** User fields the profile's field-level security hides from this user (a query naming one: INVALID_FIELD) */
  hiddenUserFields?: string[]
}

export interface SimConnectedApp {
  clientId: string
  clientSecret: string
  /** X.509 certificate or SPKI public key PEM used to verify JWT bearer assertions (RS256). */
  certificatePem?: string
  /** default 'all'; 'admin_approved' -> only preAuthorizedUsernames may use it */
  permittedUsers?: 'all' | 'admin_approved'
  preAuthorizedUsernames?: string[]
  /**
   * With permittedUsers 'all', the JWT bearer flow needs the user to have approved the app once
   * interactively. Absent = every user has; a list = only those users have.
   */
  userApprovedUsernames?: string[]
  /** Run-as user for client_credentials; absent -> the flow is not enabled for this app. */
  clientCredentialsUser?: string
  /** default true; false: the app is not installed in this org (uninstalled-app restriction, a sandbox refresh) */
  installed?: boolean
  /** External Client App identifier for the Connect REST OAuth credentials resources; generated if absent */
  appId?: string
  /** the app's OAuth consumer identifier under appId; generated if absent */
  consumerId?: string
  /** "Allow access to External Client App consumer secrets via REST API" (External Client App Settings), default false */
  consumerSecretsViaRestApi?: boolean
  /** a packaged External Client App: the staged-credentials resources serve local apps only. Default false */
  packaged?: boolean
  /** with the org's API Access Control on, this app is allow-listed for API use. Default false */
  apiAccessAllowed?: boolean
}

export interface SimFlows {
  soap: boolean
  oauthPassword: boolean
  jwtBearer: boolean
  clientCredentials: boolean
}

export interface SimLockoutPolicy {
  /** 0 = never lock */
  maxAttempts: number
  /** the lockout effective period; 0 = "Forever (must be reset by admin)" */
  durationSeconds: number
}

export interface SimOrgOptions {
  /** e.g. 'acme' */
  key: string
  /** 18-char '00D…' id; generated if absent. */
  orgId?: string
  /** default 7200 */
  sessionTimeoutSeconds?: number
  /** default { maxAttempts: 5, durationSeconds: 900 } */
  lockout?: SimLockoutPolicy
  /**
   * Password Policies "User passwords expire in" (30, 60, 90, 180 or 365 days; 0 = never expires), default 90,
   * Salesforce's default. Counted from the user's lastPasswordChangeDate; users with "Password Never Expires"
   * (PermissionsPasswordNeverExpires) are exempt. An expired password logs in with passwordExpired=true.
   */
  passwordExpiresAfterDays?: number
  /** per user, default 3600 */
  loginRatePerHour?: number
  /** org-level API access, default true */
  apiEnabled?: boolean
  /** default all true */
  flows?: Partial<SimFlows>
  /** CIDRs; a login from inside does not need the security token appended */
  trustedIpRanges?: string[]
  /** DailyApiRequests Max, default 15000 */
  apiRequestLimit?: number
  /** API Access Control: sessions of apps not allow-listed are refused for API use unless the user has "Use Any API Client". Default false */
  apiAccessControl?: boolean
  /** OauthOidcSettings.blockOAuthUnPwFlow: the OAuth username-password flow is blocked. Default false */
  blockOAuthUnPwFlow?: boolean
  /**
   * Epoch ms from which the OAuth username-password flow of connected apps is refused in every org, by the
   * simulator's clock. Default 2027-02-20T00:00:00Z, the enforcement date Salesforce announced (Salesforce Help
   * 005461976: "Salesforce doesn't offer an extension"); a test that needs the flow later moves it.
   */
  oauthPasswordFlowRetiredAt?: number
  /**
   * External Client Apps after the end of legacy redirects: a JWT `aud` must be the host the assertion is posted to
   * (login.salesforce.com posted to a My Domain is refused). Default false: login/test.salesforce.com are accepted
   * at every host too. The host's own origin is accepted either way.
   */
  jwtAudienceIsHost?: boolean
  /**
   * Summer '26 orgs: SOAP login() also needs the "Use Any API Auth" user permission
   * (PermissionsUseAnyApiAuth), else INSUFFICIENT_ACCESS. Default false.
   */
  soapLoginRequiresUseAnyApiAuth?: boolean
  /** Summer '27: SOAP login() retired for every API version (31.0–64.0 too). Default false. */
  soapLoginRetired?: boolean
  /**
   * Oldest API version still served, default 31 (21.0–30.0 retired Summer '25): below it SOAP answers
   * UNSUPPORTED_API_VERSION and REST 410. (SOAP login() on 65.0+ is refused in every org.)
   */
  minApiVersion?: number
  users?: SimUser[]
  connectedApps?: SimConnectedApp[]
}

export interface SimulatorOptions {
  orgs: SimOrgOptions[]
  /** interface to listen on, default 127.0.0.1 */
  host?: string
  /** host name put in URLs (instance_url, serverUrl…); default `host`, or 127.0.0.1 when host is a wildcard */
  advertisedHost?: string
  /** added before answering any login */
  latencyMs?: number
  /** port of the login listener; default 0 (a free port) */
  loginPort?: number
  /** when set, org i listens on orgPortBase + i; default free ports */
  orgPortBase?: number
  /**
   * The simulator's time, epoch ms; default the real time. Every policy reads it: lockout windows,
   * the hourly login rate, session timeouts, the daily API allocation, stamps on users and records.
   * A test passes its manual clock's `now` and moves an hour of lockout in a millisecond.
   */
  now?: () => number
}

export interface LoginCounts { attempts: number, failures: number, successes: number }

export interface LoginStats extends LoginCounts {
  byUser: Record<string, LoginCounts>
}

export interface SimUserState {
  username: string
  password: string
  securityToken: string
  userId: string
  active: boolean
  passwordExpired: boolean
  apiEnabled: boolean
  loginIpRanges?: string[]
  loginHours?: { startHour: number, endHour: number }
  /** every UserPermissionAccess field the simulator knows (USER_PERMISSION_FIELDS), except PermissionsApiEnabled (= apiEnabled) */
  permissions: Record<string, boolean>
  /** epoch ms */
  lastPasswordChangeDate: number
  hiddenUserFields: string[]
  /** successful logins, newest last (LoginHistory), at most a few kept */
  loginHistory: Array<{ loginTime: number, sourceIp: string }>
  /** consecutive failed password logins since the last success or unlock */
  failedLogins: number
  /** epoch ms; locked while now < lockedUntil */
  lockedUntil: number
  /** epoch ms of login attempts in the last hour, for the login rate limit */
  recentLogins: number[]
}

export interface SimConnectedAppState {
  clientId: string
  clientSecret: string
  certificatePem?: string
  permittedUsers: 'all' | 'admin_approved'
  preAuthorizedUsernames: string[]
  userApprovedUsernames?: string[]
  clientCredentialsUser?: string
  installed: boolean
  appId: string
  consumerId: string
  consumerSecretsViaRestApi: boolean
  packaged: boolean
  apiAccessAllowed: boolean
  /** the primary consumer key; clientId (the key the app was created with) until a staged key is promoted */
  consumerKey: string
  /** staged consumer credentials: 'active' ones work beside the primary; 'rotated' is the former primary, valid until deleted */
  stagedCredentials: SimStagedCredential[]
}

export interface SimStagedCredential {
  id: string
  key: string
  secret: string
  state: 'active' | 'rotated'
}

export interface SimOrgState {
  readonly key: string
  orgId: string
  sessionTimeoutSeconds: number
  lockout: SimLockoutPolicy
  passwordExpiresAfterDays: number
  loginRatePerHour: number
  apiEnabled: boolean
  flows: SimFlows
  trustedIpRanges: string[]
  apiRequestLimit: number
  apiAccessControl: boolean
  blockOAuthUnPwFlow: boolean
  oauthPasswordFlowRetiredAt: number
  jwtAudienceIsHost: boolean
  soapLoginRequiresUseAnyApiAuth: boolean
  soapLoginRetired: boolean
  minApiVersion: number
  /** REST calls counted against DailyApiRequests since start (or since a test reset it) */
  apiRequestsUsed: number
  /** keyed by username as configured */
  users: Map<string, SimUserState>
  /** keyed by clientId */
  connectedApps: Map<string, SimConnectedAppState>
}

export interface Simulator {
  /** http://HOST:PORT of the login listener (login.salesforce.com stand-in) */
  loginUrl: string
  /** http://HOST:PORT of that org's My Domain listener (== instance_url) */
  myDomainUrl (orgKey: string): string
  /** live, mutable state for tests (policies, users, apps) */
  org (orgKey: string): SimOrgState
  /** token + SOAP login attempts counted at the simulator (all orgs if no key) */
  stats (orgKey?: string): LoginStats
  resetStats (): void
  /** every issued session of that org (or of every org) becomes invalid */
  expireSessions (orgKey?: string): void
  /** new token, old one invalid (like Reset My Security Token) */
  resetSecurityToken (orgKey: string, username: string): string
  setLatency (ms: number): void
  /** while down, every listener destroys incoming sockets (connection reset) */
  setDown (down: boolean): void
  /**
   * A My Domain change (Setup > My Domain): the org answers at a new My Domain URL (returned), and
   * instance_url says so; sessions stay valid. The previous host redirects every request there
   * (307) unless `redirect: false`, until the next change or stopMyDomainRedirect; after that it is
   * no longer the org's (connections to it are dropped).
   */
  changeMyDomain (orgKey: string, opts?: { redirect?: boolean }): Promise<string>
  /** Setup > My Domain > Redirections: the previous My Domain no longer redirects */
  stopMyDomainRedirect (orgKey: string): void
  close (): Promise<void>
}
