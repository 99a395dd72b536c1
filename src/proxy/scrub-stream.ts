import { Transform } from 'node:stream'
import { encodedForms, REDACTED } from '../salesforce/scrub.ts'

const WIDE_LE = Buffer.from(REDACTED, 'utf16le').toString('latin1')
const WIDE_BE = Buffer.from(REDACTED, 'utf16le').swap16().toString('latin1')

/** The mark in the match's own encoding: a UTF-16 body stays whole UTF-16 (no ASCII form holds a NUL). */
function redacted (match: string): string {
  if (match.charCodeAt(0) === 0) return WIDE_BE
  return match.charCodeAt(1) === 0 ? WIDE_LE : REDACTED
}

/**
 * Salesforce does not echo the session it was called with, but a debugging Apex REST endpoint, a
 * misconfigured proxy or a hostile instance may. The answer is a stream (a query result or a Bulk
 * download can be large), so the session's forms (raw, percent-, JSON-, XML- and base64-encoded:
 * src/salesforce/scrub.ts) are replaced as the bytes pass, holding back only as many bytes as the
 * longest form could straddle between two chunks.
 *
 * Bytes are handled as latin1, which maps each byte to one character and back: the forms are
 * ASCII, so a match is a match in every ASCII-compatible encoding (UTF-8, latin1, windows-1252),
 * their UTF-16 spellings (either byte order) are searched for too, and other bytes pass unchanged.
 * A body still compressed by a transfer coding never gets here (proxy/decode-answer.ts).
 */
export function scrubStream (token: string): Transform {
  const { pattern, keep } = matcherFor(token)
  let pending = ''
  return new Transform({
    transform (chunk: Buffer, _encoding, done) {
      const text = (pending + chunk.toString('latin1')).replace(pattern, redacted)
      // a match can't start before the held-back tail, or replace() would have found it
      const cut = Math.max(0, text.length - keep)
      pending = text.slice(cut)
      done(null, cut > 0 ? Buffer.from(text.slice(0, cut), 'latin1') : undefined)
    },
    flush (done) {
      done(null, pending === '' ? undefined : Buffer.from(pending.replace(pattern, redacted), 'latin1'))
    },
  })
}

/**
 * A whole answer (one that came with a small Content-Length and was read at once) with the
 * session's forms replaced: the same bytes back, not a copy, when none occurs (the common case).
 */
export function scrubBuffer (token: string, body: Buffer): Buffer {
  const text = body.toString('latin1')
  const scrubbed = scrubText(token, text)
  return scrubbed === text ? body : Buffer.from(scrubbed, 'latin1')
}

/** A text (a whole answer read as latin1, a response header's value) with the session's forms replaced: itself when none occurs. */
export function scrubText (token: string, text: string): string {
  const { pattern } = matcherFor(token)
  // search() ignores and restores the shared pattern's lastIndex
  return text.search(pattern) === -1 ? text : text.replace(pattern, redacted)
}

/**
 * Whether a header's name holds one of the session's forms. Node hands names in lower case, so the
 * forms are matched in any case: a name the match is wrong about is only dropped, never passed.
 */
export function nameHoldsSession (token: string, name: string): boolean {
  return matcherFor(token).anyCase.test(name)
}

interface Matcher { pattern: RegExp, anyCase: RegExp, keep: number }

/**
 * Building the forms and compiling their pattern cost more than the rest of the proxy's own work per
 * answer, and a session serves thousands of answers: the matcher is kept per session, oldest
 * dropped first. The key is the token itself, compared whole, so one session's matcher can never
 * scrub another's answer, and a renewed session (a new token) gets its own. The tokens are held
 * only here in memory, as the session cache holds them; the map is never logged or exported.
 */
const MATCHERS_KEPT = 64
const matchers = new Map<string, Matcher>()

function matcherFor (token: string): Matcher {
  let matcher = matchers.get(token)
  if (matcher === undefined) {
    const ascii = encodedForms(token)
    // and each form in UTF-16, both byte orders (an Apex REST answer with charset=utf-16): as latin1
    // text, where every other character is a NUL. Measured: about 1.5 µs more per 8 KiB of text; a
    // body full of NULs (UTF-16 itself, zero-filled binary) scans slower, some 30 ms per 8 MiB.
    const wide = ascii.flatMap(f => [Buffer.from(f, 'utf16le').toString('latin1'), Buffer.from(f, 'utf16le').swap16().toString('latin1')])
    const forms = [...new Set([...ascii, ...wide])].sort((a, b) => b.length - a.length)
    // sharing a 'g' RegExp is safe here: replace() sets lastIndex to 0 before it starts and runs to the end synchronously
    const source = forms.map(escapeRegExp).join('|')
    // anyCase has no 'g' flag: test() then keeps no lastIndex between calls
    matcher = { pattern: new RegExp(source, 'g'), anyCase: new RegExp(source, 'i'), keep: forms[0].length - 1 }
    if (matchers.size >= MATCHERS_KEPT) matchers.delete(matchers.keys().next().value as string)
    matchers.set(token, matcher)
  }
  return matcher
}

function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
