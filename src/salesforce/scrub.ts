/**
 * Removes a connection's secrets from text that came back from upstream (a login host, a proxy,
 * an instance) before that text becomes a failure message, a hint or a code.
 *
 * Salesforce does not echo credentials, but a misconfigured proxy, a hostile allow-listed host or
 * a debugging endpoint may answer with the request it received. The password then comes back in
 * the encoding it travelled in (form-encoded for OAuth, XML-escaped inside the SOAP envelope) or
 * re-encoded by whoever echoes it (JSON strings, base64 dumps). Matching only the raw value, as
 * before, let every one of those through to admin answers, 503 details, /health/salesforce and logs.
 */
import type { ClassifiedFailure, ConnectionDefinition } from './types.ts'

export const REDACTED = '[redacted]'

/** Shorter values are not secrets Salesforce accepts, and would redact ordinary words. */
const MIN_SECRET_CHARS = 4
/** A base64 fragment shorter than this could match by chance in ordinary text. */
const MIN_BASE64_FRAGMENT = 8
/** Shortest leading piece of a secret that is still redacted where a message was cut short. */
const MIN_TAIL_PREFIX = 3

export type Scrub = (text: string) => string

/** Every secret a definition holds, and the password+token concatenation SOAP and OAuth send. */
export function definitionSecrets (def: Partial<ConnectionDefinition>): string[] {
  const out = [def.password, def.securityToken, def.clientSecret, def.privateKey]
  if (def.password !== undefined && def.securityToken !== undefined) out.push(def.password + def.securityToken)
  if (def.privateKey !== undefined) out.push(...pemBodyLines(def.privateKey))
  return out.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_CHARS)
}

/** A scrubber for these secrets, in each encoding they may come back in; identity when there are none. */
export function createScrubber (secrets: Iterable<string | undefined>): Scrub {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_CHARS) continue
    for (const form of encodedForms(secret)) {
      forms.add(form)
      // failure messages are made one line (whitespace runs collapsed) before they get here
      const collapsed = form.replace(/\s+/g, ' ')
      if (collapsed.length >= MIN_SECRET_CHARS) forms.add(collapsed)
    }
  }
  if (forms.size === 0) return text => text
  const ordered = [...forms].sort((a, b) => b.length - a.length)
  const pattern = new RegExp(ordered.map(escapeRegExp).join('|'), 'g')
  return (text: string): string => {
    if (typeof text !== 'string' || text === '') return text
    let out = text
    // a replacement can join two halves into a new match only in contrived cases; a few passes settle it
    for (let pass = 0; pass < 3; pass++) {
      const next = out.replace(pattern, REDACTED)
      if (next === out) break
      out = next
    }
    return redactCutTail(out, ordered)
  }
}

/** The failure with every upstream-derived text scrubbed (message, hint, Salesforce's code). */
export function scrubFailure (failure: ClassifiedFailure, scrub: Scrub): ClassifiedFailure {
  const out: ClassifiedFailure = { ...failure, message: scrub(failure.message), hint: scrub(failure.hint) }
  if (failure.sfCode !== undefined) out.sfCode = scrub(failure.sfCode)
  return out
}

/**
 * The forms a secret takes on the wire and in echoes: raw; percent-encoded (encodeURIComponent
 * and the form encoding with `+` for space, hex in either case); JSON string escapes (plain,
 * ASCII-only, Go's HTML-safe, escaped slashes); XML/HTML escapes (named and numeric); base64
 * (standard and url-safe, padded or not) of the whole value and of its middle at each of the
 * three byte alignments it can have inside a longer base64 stream.
 */
export function encodedForms (secret: string): string[] {
  const forms = new Set<string>([secret])
  const uri = encodeURIComponent(secret)
  const form = new URLSearchParams({ s: secret }).toString().slice(2)
  for (const encoded of [uri, form, uri.replace(/%20/g, '+')]) {
    forms.add(encoded)
    forms.add(encoded.replace(/%[0-9A-F]{2}/g, h => h.toLowerCase()))
  }
  const json = JSON.stringify(secret).slice(1, -1)
  const asciiJson = json.replace(/[\u0080-\uffff]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  for (const variant of [json, asciiJson, upperHexEscapes(asciiJson)]) {
    forms.add(variant)
    forms.add(variant.replace(/\//g, '\\/'))
    forms.add(variant.replace(/[<>&]/g, c => `\\u00${c.charCodeAt(0).toString(16)}`))
  }
  forms.add(secret.replace(/[&<>"']/g, c => XML_NAMED[c]))
  forms.add(secret.replace(/[&<>]/g, c => XML_NAMED[c]))
  forms.add(secret.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`))
  forms.add(secret.replace(/[&<>"']/g, c => (c === '"' || c === '\'' ? `&#${c.charCodeAt(0)};` : XML_NAMED[c])))
  forms.add(secret.replace(/[&<>"']/g, c => XML_NAMED[c]).replace(/[\u{80}-\u{10ffff}]/gu, c => `&#${c.codePointAt(0)};`))
  for (const b64 of base64Forms(Buffer.from(secret, 'utf8'))) forms.add(b64)
  return [...forms].filter(f => f.length >= MIN_SECRET_CHARS)
}

const XML_NAMED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&apos;' }

function upperHexEscapes (json: string): string {
  return json.replace(/\\u([0-9a-f]{4})/g, (_m, hex: string) => `\\u${hex.toUpperCase()}`)
}

function base64Forms (bytes: Buffer): string[] {
  const out: string[] = []
  const whole = bytes.toString('base64')
  out.push(whole, whole.replace(/=+$/, ''), bytes.toString('base64url'))
  // Inside a longer stream the secret starts at byte offset 0, 1 or 2 of a 3-byte group; only the
  // groups made entirely of its bytes encode the same whatever surrounds them.
  for (let lead = 0; lead < 3; lead++) {
    const padded = Buffer.concat([Buffer.alloc(lead), bytes])
    const firstGroup = Math.ceil(lead / 3)
    const endGroup = Math.floor(padded.length / 3)
    if (endGroup <= firstGroup) continue
    const middle = padded.toString('base64').slice(firstGroup * 4, endGroup * 4)
    if (middle.length < MIN_BASE64_FRAGMENT) continue
    out.push(middle, middle.replace(/\+/g, '-').replace(/\//g, '_'))
  }
  return out
}

/** A PEM key's base64 lines are secret on their own (an echo may quote one line of it). */
function pemBodyLines (pem: string): string[] {
  return pem.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('-----') && l.length >= 16)
}

/**
 * A message cut short ("…") may end in the first characters of a secret: redact that tail too,
 * so a truncated echo never leaks a prefix.
 */
function redactCutTail (text: string, forms: readonly string[]): string {
  if (!text.endsWith('…')) return text
  const body = text.slice(0, -1)
  let cut = 0
  for (const form of forms) {
    for (let k = Math.min(form.length - 1, body.length); k >= MIN_TAIL_PREFIX && k > cut; k--) {
      if (body.endsWith(form.slice(0, k))) {
        cut = k
        break
      }
    }
  }
  return cut === 0 ? text : `${body.slice(0, body.length - cut)}${REDACTED}…`
}

function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
