import type { Readable } from 'node:stream'

/** the most of a 401's body read to find its errorCode: Salesforce's is one short JSON array */
const MAX_ERROR_BODY = 16 * 1024

/**
 * "401 — The session ID or OAuth token used has expired or is invalid. The response body contains
 * the message and errorCode" (REST API Developer Guide, Status Codes and Error Responses): the
 * errorCode is INVALID_SESSION_ID. Other 401s (a connected app policy, an IP restriction) are not
 * healed by a new session.
 */
export function saysInvalidSession (body: string): boolean {
  return /"errorCode"\s*:\s*"INVALID_SESSION_ID"/.test(body)
}

/** The start of an upstream body, as text; the rest is drained. */
export async function readErrorBody (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    if (size < MAX_ERROR_BODY) chunks.push(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY)
}
