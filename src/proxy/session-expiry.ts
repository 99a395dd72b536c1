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

export interface ErrorStart {
  /** the first bytes of the body: at least MAX_ERROR_BODY of them, unless the body is shorter */
  start: Buffer
  /** true: that was the whole body; false: the rest is left unread in the stream (paused) */
  ended: boolean
}

/**
 * The start of an upstream body, enough to find the errorCode in. The rest is left in the stream
 * rather than drained or dropped: a 401 that is not an ended session goes to the caller whole.
 * Rejects when the body fails before that (broken off, or not in the encoding it named).
 */
export async function readErrorStart (body: Readable): Promise<ErrorStart> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (ended: boolean): void => {
      body.off('data', onData)
      body.off('end', onEnd)
      resolve({ start: Buffer.concat(chunks), ended })
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size < MAX_ERROR_BODY) return
      body.pause()
      settle(false)
    }
    const onEnd = (): void => { settle(true) }
    body.on('data', onData)
    body.once('end', onEnd)
    // kept after settling: a later error is the next reader's to handle, and must not go unhandled meanwhile
    body.once('error', reject)
  })
}
