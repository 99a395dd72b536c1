import { newSalesforceId } from './ids.ts'
import type { ListenerScope, SimContext } from './context.ts'
import type { SimSession } from './sessions.ts'
import type { SimConnectedAppState, SimOrgState } from './types.ts'
import { findUserById } from './org-state.ts'

/**
 * What 2025–26 platform changes do to an integration that worked yesterday, as org and app switches
 * (control API: PATCH /_sim/orgs/KEY, PATCH /_sim/orgs/KEY/apps/ID, POST /_sim/orgs/KEY/refresh):
 *
 * - uninstalled apps (Salesforce Help 005132365 "Prepare for Connected App Usage Restrictions
 *   Change", enforced early September 2025; 005185027 on sandboxes): an app not installed in the org
 *   is refused. The token endpoint's words are those public integrations met in the authorization
 *   flow, `invalid_client` / `app must be installed into org`; the simulator answers every flow so.
 * - API Access Control: the login succeeds, but a session of an app not allow-listed is refused for
 *   API use unless the user has "Use Any API Client" — REST answers 401 INVALID_SESSION_ID "This
 *   session is not valid for use with the REST API" (the answer public issues report with API Access
 *   Control on: dufoli/Salesforce-Inspector-Advanced #291, SalesforceLabs/OrgCheck #621).
 * - the org setting OauthOidcSettings.blockOAuthUnPwFlow (Metadata API Developer Guide,
 *   "OauthOidcSettings"): the username-password flow is refused with the usual `authentication failure`,
 *   counted as a failed login (Login History says "Username-Password Flow Disabled"), but not towards
 *   the lockout: no password was judged. Sessions issued before keep working; readMetadata()
 *   reports the setting (metadata-api.ts).
 * - a sandbox refresh: a new org (new Organization ID, every session gone); apps created after the
 *   sandbox's copy may be missing, i.e. not installed (sfdx-hardis "Sandbox Refresh").
 */

export const APP_NOT_INSTALLED = { error: 'invalid_client', error_description: 'app must be installed into org' } as const

export const NOT_VALID_FOR_REST = [{ message: 'This session is not valid for use with the REST API', errorCode: 'INVALID_SESSION_ID' }]

/** API Access Control refuses this session for API calls. */
export function apiUseRefused (ctx: SimContext, org: SimOrgState, session: SimSession): boolean {
  if (!org.apiAccessControl) return false
  if (findUserById(org, session.userId)?.permissions.PermissionsUseAnyApiClient) return false
  const app: SimConnectedAppState | undefined = session.clientId === undefined ? undefined : org.connectedApps.get(session.clientId)
  return !app?.apiAccessAllowed
}

/**
 * The audiences that name the host a JWT assertion is posted to: a My Domain's own origin; the
 * login listener's origin and the two generic hosts it stands in for. Every app accepts them; with
 * the org's `jwtAudienceIsHost` (External Client Apps since legacy redirects ended) only they are.
 */
export function hostAudiences (scope: ListenerScope): string[] {
  const own = new URL(scope.url).origin
  return scope.kind === 'login' ? [own, 'https://login.salesforce.com', 'https://test.salesforce.com'] : [own]
}

/**
 * A sandbox refresh: the same My Domain now answers for a new org (a new Organization ID), every
 * session of the old one is gone; `uninstallApps` leaves its apps uninstalled.
 */
export function refreshSandbox (ctx: SimContext, org: SimOrgState, opts: { uninstallApps?: boolean, orgId?: string }): void {
  org.orgId = opts.orgId ?? newSalesforceId('00D')
  ctx.sessions.expireOrg(org.key)
  if (opts.uninstallApps) for (const app of org.connectedApps.values()) app.installed = false
}
