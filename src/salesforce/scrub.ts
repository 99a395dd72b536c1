/**
 * Removes a connection's secrets from text that came back from upstream (a login host, a proxy,
 * an instance) before that text becomes a failure message, a hint or a code.
 *
 * Salesforce does not echo credentials, but a misconfigured proxy, a hostile allow-listed host or
 * a debugging endpoint may answer with the request it received. The password then comes back in
 * the encoding it travelled in (form-encoded for OAuth, XML-escaped inside the SOAP envelope) or
 * re-encoded by whoever echoes it (JSON strings, base64 dumps), sometimes twice (a proxy that
 * percent-encodes an already form-encoded body), sometimes only in part (`/` left raw) and sometimes
 * cut short. Matching only whole values in a fixed list of encodings let every one of those through
 * to admin answers, 503 details, /health/salesforce and logs: each character of a secret is
 * therefore matched in any of its encodings, repeated percent-encoding decoded as it is matched,
 * and a long enough leading piece of a secret counts as the secret.
 */
import { createHash } from 'node:crypto'
import type { ClassifiedFailure, ConnectionDefinition } from './types.ts'

export const REDACTED = '[redacted]'

/** Shorter values are not secrets Salesforce accepts, and would redact ordinary words. */
const MIN_SECRET_CHARS = 4
/** A base64 fragment shorter than this could match by chance in ordinary text. */
const MIN_BASE64_FRAGMENT = 8
/** Shortest leading piece of a secret that is still redacted where a message was cut short. */
const MIN_TAIL_PREFIX = 3
/** A leading piece of a secret this long (in characters) is redacted wherever it appears: an echo cut short. */
const MIN_PREFIX_CHARS = 8
/** How many characters of a secret a raw reading of one encoded character can take up (`\\u0041` read as `\\`, `u`, `0`…). */
const AMBIGUOUS_UNITS = 6
/**
 * Longer values (a whole PEM key, a signed assertion) are matched in their literal forms only: their
 * characters are ones no encoding changes, and a PEM key's lines are secrets of their own.
 */
const MAX_MIXED_CHARS = 256

export type Scrub = (text: string) => string

/** Every secret a definition holds, and the password+token concatenation SOAP and OAuth send. */
export function definitionSecrets (def: Partial<ConnectionDefinition>): string[] {
  const out = [def.password, def.securityToken, def.clientSecret, def.privateKey]
  if (def.password !== undefined && def.securityToken !== undefined) out.push(def.password + def.securityToken)
  if (def.privateKey !== undefined) out.push(...pemBodyLines(def.privateKey))
  return out.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_CHARS)
}

/** The parts of a definition's private key (the PEM and its lines): secrets that never leave the broker. */
export function unsentSecrets (def: Partial<ConnectionDefinition>): string[] {
  return def.privateKey === undefined ? [] : [def.privateKey, ...pemBodyLines(def.privateKey)]
}

/**
 * A scrubber for these secrets, in each encoding they may come back in; identity when there are none.
 * `unsent`: those among them never sent anywhere (a private key), matched without the forms of a request dump.
 */
export function createScrubber (secrets: Iterable<string | undefined>, unsent: readonly string[] = []): Scrub {
  const list = [...secrets].filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_CHARS)
  if (list.length === 0) return text => text
  const key = createHash('sha256').update(JSON.stringify([list, unsent])).digest('base64')
  let scrub = recentScrubbers.get(key)
  if (scrub === undefined) {
    scrub = buildScrubber(list, new Set(unsent))
    if (recentScrubbers.size >= RECENT_SCRUBBERS) recentScrubbers.delete(recentScrubbers.keys().next().value as string)
  } else {
    recentScrubbers.delete(key)
  }
  recentScrubbers.set(key, scrub)
  return scrub
}

/**
 * Scrubbers for the last few secret sets, most recent last. V8 compiles a regular expression at its
 * first use and again, to machine code, at its second: for a definition's scrubber (a password's
 * every encoding, mixed) that was 20–25 ms of CPU at each failed login, spent on three short
 * messages. A connection that keeps failing (a health check, callers while the circuit is shut)
 * now pays it once. Keyed by a digest: the secrets are not copied into a key.
 */
const recentScrubbers = new Map<string, Scrub>()
const RECENT_SCRUBBERS = 32

function buildScrubber (list: readonly string[], kept: ReadonlySet<string>): Scrub {
  const forms = new Set<string>()
  for (const secret of list) {
    for (const form of encodedForms(secret, !kept.has(secret))) {
      forms.add(form)
      // failure messages are made one line (whitespace runs collapsed) before they get here
      const collapsed = form.replace(/\s+/g, ' ')
      if (collapsed.length >= MIN_SECRET_CHARS) forms.add(collapsed)
    }
  }
  if (forms.size === 0) return text => text
  const ordered = [...forms].sort((a, b) => b.length - a.length)
  // a value never sent (a private key's lines) cannot come back re-encoded or cut short by an echo:
  // its literal forms suffice. Matched in mixed encodings, a 2048-bit key's 25 lines made one regular
  // expression that took V8 about 0.2 s to compile at every failed JWT login.
  const mixed = list.filter(s => s.length <= MAX_MIXED_CHARS && !kept.has(s)).sort((a, b) => b.length - a.length)
  // mixed encodings first: a literal form (one JSON escape) must not end a match a deeper escape continues
  const whole = new RegExp([...mixed.map(s => charUnits(s).join('')), ...ordered.map(escapeRegExp)].join('|'), 'g')
  const leadingPieces = mixed.map(charUnits).filter(units => units.length > MIN_PREFIX_CHARS).map(units => new LeadingPiece(units))
  return (text: string): string => {
    if (typeof text !== 'string' || text === '') return text
    let out = text
    // a replacement can join two halves into a new match only in contrived cases; a few passes settle it
    for (let pass = 0; pass < 3; pass++) {
      const next = out.replace(whole, REDACTED)
      if (next === out) break
      out = next
    }
    // whole secrets first: a leading piece matched on its own could stop short of an ambiguous character
    for (const piece of leadingPieces) out = piece.redact(out)
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
 * three byte alignments it can have inside a longer base64 stream, for the raw value and for the
 * forms it travels in (percent/form-encoded, XML-escaped).
 */
export function encodedForms (secret: string, sent = true): string[] {
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
  forms.add(escapeXmlText(secret))
  forms.add(secret.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`))
  forms.add(secret.replace(/[&<>"']/g, c => (c === '"' || c === '\'' ? `&#${c.charCodeAt(0)};` : XML_NAMED[c])))
  forms.add(secret.replace(/[&<>"']/g, c => XML_NAMED[c]).replace(/[\u{80}-\u{10ffff}]/gu, c => `&#${c.codePointAt(0)};`))
  // a dump of the request (base64 of the body a proxy or debugging endpoint received) holds the
  // secret as it travelled: form-encoded in the OAuth flows, XML-escaped in the SOAP envelope.
  // (a PEM key never travels, `sent` false: its 64-character lines would otherwise add forms by the
  // hundred to every failed login's scrubber; an assertion's characters are ones no encoding changes)
  const travels = sent && secret.length <= MAX_MIXED_CHARS
  const wire = new Set(travels ? [secret, uri, form, escapeXmlText(secret), secret.replace(/[&<>"']/g, c => XML_NAMED[c])] : [secret])
  for (const travelled of wire) for (const b64 of base64Forms(Buffer.from(travelled, 'utf8'))) forms.add(b64)
  return [...forms].filter(f => f.length >= MIN_SECRET_CHARS)
}

/**
 * The secret as one pattern per character, each matching that character in any of its text
 * encodings, mixed freely: raw, percent-encoded any number of times (`%41`, `%2541`…, either hex
 * case, `+` for space), JSON-escaped at any depth (`\\u0041`, `\\\\"`…), XML/HTML escaped. A run
 * of whitespace is one pattern matching any run of whitespace (messages are made one line).
 */
function charUnits (secret: string): string[] {
  return (secret.match(/\s+|[^\s]/gu) ?? []).map(run => /^\s/.test(run) ? WHITESPACE_RUN : charPattern(run))
}

/** Patterns per character, built once: scrubbers are made per failed login, from the same few characters. */
const CHAR_PATTERNS = new Map<string, string>()

function charPattern (ch: string): string {
  let pattern = CHAR_PATTERNS.get(ch)
  if (pattern === undefined) {
    pattern = `(?:${charAlternatives(ch).join('|')})`
    if (CHAR_PATTERNS.size < 4096) CHAR_PATTERNS.set(ch, pattern)
  }
  return pattern
}

/**
 * Redacts leading pieces of one secret (at least MIN_PREFIX_CHARS characters) wherever they occur:
 * an echo cut short. Each occurrence is extended to the longest leading piece that matches there
 * (a character's encodings are ambiguous: `+` may be a space or a plus), found by halving, since
 * every shorter leading piece of a match matches too.
 */
class LeadingPiece {
  private readonly find: RegExp
  private readonly exact = new Map<number, RegExp>()
  private readonly units: readonly string[]
  constructor (units: readonly string[]) {
    this.units = units
    this.find = new RegExp(units.slice(0, MIN_PREFIX_CHARS).join(''), 'g')
  }

  redact (text: string): string {
    let out = ''
    let from = 0
    this.find.lastIndex = 0
    for (let m = this.find.exec(text); m !== null; m = this.find.exec(text)) {
      const end = this.longestEnd(text, m.index, m.index + m[0].length)
      out += `${text.slice(from, m.index)}${REDACTED}`
      from = end
      this.find.lastIndex = end
    }
    return from === 0 ? text : out + text.slice(from)
  }

  private longestEnd (text: string, at: number, shortestEnd: number): number {
    let lo = MIN_PREFIX_CHARS
    let hi = this.units.length
    let end = shortestEnd
    while (lo < hi) {
      const k = Math.ceil((lo + hi) / 2)
      const re = this.exactPrefix(k)
      re.lastIndex = at
      const m = re.exec(text)
      if (m === null) hi = k - 1
      else { lo = k; end = at + m[0].length }
    }
    // the longest piece is not always the one reaching furthest: cut short after a "%", its "%25"
    // also reads as a raw "%" and "2" (one character more, one text character less), which left
    // the "5" behind. Of the few pieces just shorter, the one reaching furthest wins.
    for (let k = Math.max(MIN_PREFIX_CHARS, lo - AMBIGUOUS_UNITS); k < lo; k++) {
      const re = this.exactPrefix(k)
      re.lastIndex = at
      const m = re.exec(text)
      if (m !== null && at + m[0].length > end) end = at + m[0].length
    }
    return end
  }

  private exactPrefix (k: number): RegExp {
    let re = this.exact.get(k)
    if (re === undefined) {
      re = new RegExp(this.units.slice(0, k).join(''), 'y')
      this.exact.set(k, re)
    }
    return re
  }
}

const PERCENT = '%(?:25)*'
const WHITESPACE_RUN = `(?:\\s|\\+|${PERCENT}(?:20|09|0[aAdD]|2[bB])|\\\\+[ntr]|&#(?:32|9|10|13);|&#[xX](?:20|9|[aAdD]);)+`

function charAlternatives (ch: string): string[] {
  // encoded forms first: a raw `%`, `&` or `\\` must not end a match that its encoded form would continue
  const alts = [[...Buffer.from(ch, 'utf8')].map(b => PERCENT + hexPattern(b, 2)).join('')]
  const units = [...Array(ch.length).keys()].map(i => ch.charCodeAt(i))
  alts.push(units.map(u => `\\\\+u${hexPattern(u, 4)}`).join(''))
  const short = JSON_SHORT[ch]
  if (short !== undefined) alts.push(`\\\\+${escapeRegExp(short)}`)
  const named = XML_NAMED[ch]
  if (named !== undefined) alts.push(escapeRegExp(named))
  const cp = ch.codePointAt(0) ?? 0
  alts.push(`&#0*${cp};`, `&#[xX]0*${hexPattern(cp, 1)};`, escapeRegExp(ch))
  return alts
}

/** JSON's two-character escapes, without the backslash. */
const JSON_SHORT: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', '\b': 'b', '\f': 'f' }

/** A number in hex, either case, at least `width` digits. */
function hexPattern (n: number, width: number): string {
  return [...n.toString(16).padStart(width, '0')].map(d => /[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d).join('')
}

const XML_NAMED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&apos;' }

function escapeXmlText (s: string): string {
  return s.replace(/[&<>]/g, c => XML_NAMED[c])
}

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
