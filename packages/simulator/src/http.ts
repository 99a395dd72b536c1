import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

const MAX_BODY_BYTES = 1024 * 1024

export async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('request body too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Salesforce answers JSON with this content type on its OAuth and REST endpoints. */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  })
  res.end(payload)
}

export function sendText (res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

export function sendEmpty (res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': 0, ...headers })
  res.end()
}

/**
 * The configured answer latency. Unref'd: the request's socket keeps the process alive while an
 * answer is pending, so a delay left over after the simulator closed (a test that made Salesforce
 * hang for a minute) does not hold its process open for the rest of that minute.
 */
export async function delay (ms: number): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { ref: false })
}

/** The token after "Bearer " (or Salesforce's older "OAuth ") in the Authorization header. */
export function bearerToken (req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (!header) return undefined
  const match = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header.trim())
  return match?.[1]
}

export function isFormEncoded (req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
}
