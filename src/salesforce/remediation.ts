/**
 * What an admin should check for each classification, in Salesforce Setup terms (the
 * integration-user checklist). Salesforce deliberately answers several different problems with
 * one message (INVALID_LOGIN, invalid_grant "authentication failure"), so those hints list every
 * cause it may hide and where to look for each: Setup > Users > [user] > Login History shows the
 * real reason of each failed attempt.
 */
import type { Classification, Flow } from './types.ts'

export type FailureClassification = Exclude<Classification, 'ok'>

/** Where every retirement hint points: the flows that survive 2027. */
export const MIGRATE = 'move the connection to jwt_bearer (a certificate on a connected app or External Client App, the integration ' +
  'user pre-authorized) or client_credentials (one Run-As user, My Domain login URL) — README "Flow retirement".'

const LOGIN_HISTORY = 'Setup > Users > [integration user] > Login History shows the real reason of each failed attempt.'

const HINTS: Record<FailureClassification, string> = {
  invalid_credentials:
    'Salesforce rejected the login without saying why: this same answer covers a wrong password, a wrong or missing security token, ' +
    'a locked-out user and a blocked login flow. Check, in order: ' +
    '(1) the password is current (it may have been changed or reset); ' +
    '(2) the security token: regenerate it as the integration user (Settings > Reset My Security Token) and store the new one — ' +
    'or add the broker\'s egress IPs to Setup > Network Access (trusted IP ranges) so no token is needed; ' +
    '(3) the user is not locked out (Setup > Users > [user] > Unlock; review the lockout policy in Setup > Password Policies); ' +
    '(4) the flow is allowed (SOAP API login allowed for the org; for the OAuth username-password flow, ' +
    'Setup > OAuth and OpenID Connect Settings > "Allow OAuth Username-Password Flows"). ' + LOGIN_HISTORY,
  locked_out:
    'The integration user is locked out after too many failed logins. Unlock it (Setup > Users > [user] > Unlock) ' +
    'or wait for the lockout period (Setup > Password Policies > Lockout effective period), then fix the stored credential ' +
    'that caused the failures before logging in again.',
  security_token_required:
    'Salesforce wants the security token appended to the password because the broker logs in from outside the org\'s trusted IP ranges. ' +
    'Regenerate the token as the integration user (Settings > Reset My Security Token) and store it with the connection — ' +
    'or add the broker\'s egress IPs to Setup > Network Access (trusted IP ranges).',
  api_disabled:
    'API access is off: check that the integration user\'s profile or a permission set grants "API Enabled" ' +
    '(Setup > Profiles / Permission Sets > System Permissions), and that the org\'s edition includes API access.',
  ip_or_hours_restricted:
    'The integration user\'s profile does not allow logins from the broker\'s IP address or at this time. ' +
    'Check Login IP Ranges and Login Hours on the profile (Setup > Profiles > [profile]) and add the broker\'s egress IPs ' +
    'or widen the hours. ' + LOGIN_HISTORY,
  password_expired:
    'The integration user\'s password has expired. Reset it (Setup > Users > [user] > Reset Password), store the new password ' +
    '(and the new security token) with the connection, and set "Password never expires" on the integration profile ' +
    '(Setup > Profiles > [profile] > System Permissions).',
  login_rate_exceeded:
    'Salesforce is limiting logins for this user (about 3,600 per hour). Logins resume by themselves; ' +
    'find what else logs in as this user so often (Login History) and let it reuse sessions.',
  api_limit_exceeded:
    'The org has used its daily API request allowance (Setup > Company Information > API Requests, Last 24 Hours). ' +
    'Requests resume as the rolling 24-hour window moves; reduce API use or buy more capacity.',
  invalid_client:
    'Salesforce did not accept the connected app\'s consumer key or consumer secret. Compare them with ' +
    'Setup > App Manager > [connected app] > View > Manage Consumer Details (a new secret invalidates the old one), ' +
    'and check the app exists in this org (or is installed in it) and that the login URL is this org\'s.',
  flow_not_enabled:
    'This login flow is not enabled. SOAP: SOAP API login() must be allowed for the org. ' +
    'OAuth username-password: Setup > OAuth and OpenID Connect Settings > "Allow OAuth Username-Password Flows". ' +
    'Client credentials: enable "Enable Client Credentials Flow" on the connected app, set a Run As user ' +
    '(Manage > Edit Policies > Client Credentials Flow), and use the org\'s My Domain URL as the login URL — ' +
    'login.salesforce.com and test.salesforce.com do not serve this flow. ' +
    'JWT bearer: enable "Use digital signatures" on the connected app.',
  user_not_approved:
    'The user is not authorised for the connected app. Set Permitted Users to "Admin approved users are pre-authorized" ' +
    '(Setup > App Manager > [connected app] > Manage > Edit Policies) and assign the app to the integration user\'s ' +
    'profile or a permission set (Manage Profiles / Manage Permission Sets). With "All users may self-authorize" the JWT ' +
    'bearer flow needs the user to have approved the app once interactively.',
  invalid_assertion:
    'Salesforce rejected the signed JWT assertion. Check that the certificate uploaded to the connected app ("Use digital signatures") ' +
    'matches the stored private key, that the consumer key is this app\'s, that the username exists in this org, ' +
    'that the audience is the host the assertion is posted to (the default: leave jwtAudience unset, store the org\'s My Domain as loginUrl), ' +
    'and that the broker\'s clock is correct (the assertion is valid for 3 minutes).',
  inactive_user:
    'The integration user is deactivated or frozen. Reactivate it (Setup > Users > [user] > Edit > Active) or unfreeze it, ' +
    'or point the connection at an active integration user.',
  app_not_installed:
    'The app is not installed in this org, and Salesforce blocks uninstalled apps (since September 2025; Salesforce Help 005132365). ' +
    'Connected app: Setup > Connected Apps OAuth Usage > [app] > Install, then Manage App Policies (Permitted Users: "Admin approved ' +
    'users are pre-authorized") and assign it to the integration user\'s profile or permission set. External Client App defined in ' +
    'another org: install its package here (Setup > External Client App Manager shows the installed ones). After a sandbox refresh the ' +
    'app may be missing from the sandbox: install or recreate it there, and store its consumer key (and secret) again.',
  api_access_blocked:
    'The login succeeded, but Salesforce refuses the session for API use: API Access Control is on (Setup > API Access Control) and ' +
    'the app is not allow-listed there, or the integration user lacks "Use Any API Client". Add the connected app or External Client App ' +
    'to API Access Control\'s allowed apps (preferred: only named apps may call the API), or grant the user "Use Any API Client" ' +
    'through a permission set. A new login cannot help: every session of this app gets the same answer.',
  audience_mismatch:
    'Salesforce refused the JWT assertion\'s audience (aud). External Client Apps check it against the host the assertion is posted to ' +
    'since legacy redirects ended (Salesforce Help "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration" names login/test.salesforce.com, ' +
    'which now work only posted to themselves): store the org\'s My Domain (https://<domain>.my.salesforce.com) as loginUrl and leave jwtAudience ' +
    'unset — the audience then defaults to the same origin, which connected apps accept too; a jwtAudience of https://login.salesforce.com or ' +
    'https://test.salesforce.com overrides it: remove it.',
  api_version_retired:
    'Salesforce no longer serves this API version for this call: API versions are retired in ranges (21.0–30.0 in Summer \'25, ' +
    '31.0–40.0 in Summer \'28), and SOAP login() does not exist in 65.0 or later. Raise the connection\'s apiVersion to a supported ' +
    'version (GET /services/data lists them). If the call was SOAP login(), it is being retired altogether: ' + MIGRATE,
  session_invalid:
    'The Salesforce session expired or was revoked (session timeout, logout, admin action). A new login is needed; ' +
    'if this happens long before the org\'s session timeout, compare the connection\'s sessionTimeoutSeconds with Setup > Session Settings.',
  unreachable:
    'Salesforce could not be reached in time (network error, timeout or maintenance). Check the broker\'s egress and DNS, ' +
    'status.salesforce.com for the instance, and the login URL. Logins are retried automatically.',
  unknown:
    'Salesforce gave an answer the broker does not recognise. Read the message and Login History ' +
    '(Setup > Users > [integration user] > Login History); check the login URL points at this org.',
}

/** Extra, flow-specific advice where the generic hint would send the admin to the wrong screen. */
const FLOW_HINTS: Partial<Record<Flow, Partial<Record<FailureClassification, string>>>> = {
  client_credentials: {
    invalid_credentials:
      'Salesforce rejected the client credentials login. Check the consumer key and secret, that "Enable Client Credentials Flow" ' +
      'is on for the connected app with a Run As user that is active and API enabled, and that the login URL is the org\'s My Domain.',
  },
  jwt_bearer: {
    invalid_credentials:
      'Salesforce rejected the JWT bearer login. Check the username exists in this org and is active, the user is pre-authorised for ' +
      'the connected app (Permitted Users: "Admin approved users are pre-authorized" + profile/permission set), and the uploaded ' +
      'certificate matches the stored private key.',
  },
}

export function remediationHint (classification: FailureClassification, flow?: Flow): string {
  const specific = flow === undefined ? undefined : FLOW_HINTS[flow]?.[classification]
  return specific ?? HINTS[classification]
}
