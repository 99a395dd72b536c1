import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import type { Transform } from 'node:stream'

/**
 * The proxy asks Salesforce for identity encoding (so echoes can be scrubbed) and returns no
 * Content-Encoding; an upstream that compresses anyway is decoded here. undefined = identity;
 * null = an encoding the proxy cannot read (the answer is refused rather than passed unscrubbed).
 */
export function decoderFor (contentEncoding: string | string[] | undefined): Transform | undefined | null {
  const value = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : contentEncoding ?? '').trim().toLowerCase()
  if (value === '' || value === 'identity') return undefined
  if (value === 'gzip' || value === 'x-gzip') return createGunzip()
  if (value === 'deflate') return createInflate()
  if (value === 'br') return createBrotliDecompress()
  return null
}

/**
 * The decoder for an answer's body: none for an answer that has no body (to a HEAD, a 204, a 304),
 * whatever Content-Encoding it names (a HEAD gets the GET's headers, and there is nothing to decode).
 */
export function bodyDecoderFor (method: string, status: number, contentEncoding: string | string[] | undefined): Transform | undefined | null {
  if (method === 'HEAD' || status === 204 || status === 304) return undefined
  return decoderFor(contentEncoding)
}
