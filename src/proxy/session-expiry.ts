/** the most of a 401's body read to find its errorCode: Salesforce's is one short JSON array */
export const MAX_ERROR_BODY = 16 * 1024

/**
 * "401 — The session ID or OAuth token used has expired or is invalid. The response body contains
 * the message and errorCode" (REST API Developer Guide, Status Codes and Error Responses): the
 * errorCode is INVALID_SESSION_ID. Other 401s (a connected app policy, an IP restriction) are not
 * healed by a new session.
 */
export function saysInvalidSession (body: string): boolean {
  return /"errorCode"\s*:\s*"INVALID_SESSION_ID"/.test(body)
}
