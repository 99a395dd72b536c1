/**
 * Resources that hand out or change the broker's own credentials, refused for every caller, as a
 * proxied path (target-path.ts) and as a sub-request of a composite or batch call (subrequests.ts):
 * - the OAuth credentials API under /services/data/vXX.X/apps/oauth/ (Connect REST; Salesforce Help
 *   "Stage, Rotate, and Delete OAuth Credentials for a Local External Client App",
 *   xcloud.eca_stage_oauth_credentials) lists, stages, shows and rotates the consumer key and secret
 *   of the broker's own External Client App; its neighbour `usage` lists the app's tokens;
 * - a user's password (REST API Developer Guide, "sObject User Password":
 *   sobjects/User/{id}/password and sobjects/SelfServiceUser/{id}/password): POST sets one, DELETE
 *   resets it and answers the generated password.
 * Forwarded, a caller could mint a login of its own (a proxy-only caller would hold sessions after
 * all) or change the secret under the broker. Matched after any prefix (Connect resources are also
 * served under a site's, `connect/communities/{id}/…`).
 */

/**
 * Whether a path, as its segments (decoded, upper-cased as Java's equalsIgnoreCase compares: the
 * long s, U+017F, is an S then), reaches one of those resources.
 */
export function reachesBrokerCredentials (segments: readonly string[]): boolean {
  return segments.some((segment, i) => (segment === 'APPS' && segments[i + 1] === 'OAUTH') ||
    ((segment === 'USER' || segment === 'SELFSERVICEUSER') && segments[i - 1] === 'SOBJECTS' && segments[i + 2] === 'PASSWORD'))
}
