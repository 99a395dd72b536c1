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
 * long s, U+017F, is an S then), reaches one of those resources. A segment is compared without a
 * format suffix: "In versions 57.0 and earlier, it's possible to append .json or .xml to the URI"
 * (REST API Developer Guide, "REST API Architecture"; Connect REST API Developer Guide, "Connect REST
 * API Architecture", documents the same suffix): `…/v57.0/sobjects/User/{id}/password.json` is the
 * password resource, and the caller picks the version.
 */
export function reachesBrokerCredentials (segments: readonly string[]): boolean {
  const bare = (i: number): string | undefined => {
    const segment = segments[i]
    return segment === undefined ? undefined : withoutFormatSuffix(segment)
  }
  return segments.some((_, i) => (bare(i) === 'APPS' && bare(i + 1) === 'OAUTH') ||
    ((bare(i) === 'USER' || bare(i) === 'SELFSERVICEUSER') && bare(i - 1) === 'SOBJECTS' && bare(i + 2) === 'PASSWORD'))
}

const FORMAT_SUFFIX = /(\.(json|xml))+$/i

/** A path segment as Salesforce routes it: without the `.json`/`.xml` format suffix it may carry (any case). */
export function withoutFormatSuffix (segment: string): string {
  return segment.includes('.') ? segment.replace(FORMAT_SUFFIX, '') : segment
}
