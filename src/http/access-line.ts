import { tracingChannel } from 'node:diagnostics_channel'
import pino from 'pino'

/** What one access line says, in the order it says it. */
export interface AccessFields {
  method: string
  /** the route pattern, never the raw URL */
  route: string
  status: number
  ms: number
  caller?: string
  /** the name of the error that cut the response short */
  aborted?: string
}

type AccessLevel = 'info' | 'debug'

/** the part of a logger the access line needs: pino's, or any logger Fastify accepts */
export interface AccessLogger {
  info (fields: AccessFields, msg: string): void
  debug (fields: AccessFields, msg: string): void
}

const FIELDS: readonly string[] = ['method', 'route', 'status', 'ms', 'caller', 'aborted', 'msg']

/** the level numbers pino writes for these levels whatever customLevels says (lib/levels.js, isStandardLevel) */
const STANDARD_LEVELS: Readonly<Record<AccessLevel, number>> = { info: 30, debug: 20 }

const symbols = pino.symbols as typeof pino.symbols & { readonly msgPrefixSym: symbol }

/** pino's own formatting and writing functions, to tell them from a replacement (pino.symbols exist to allow one) */
const untouched = pino({ level: 'silent' }, { write () {} }) as unknown as PinoState
const PINO_AS_JSON = untouched[symbols.asJsonSym]
const PINO_WRITE = untouched[symbols.writeSym]
/** pino 10's diagnostics channel around its formatter (docs/diagnostics.md): a subscriber is owed every call */
const asJsonTracing = tracingChannel('pino_asJson')

/** pino's per-logger state the line is made of (public as pino.symbols, "for integration purposes with ecosystem and third-party libraries") */
interface PinoState {
  isLevelEnabled (level: string): boolean
  [key: symbol]: unknown
}

/**
 * Writes the access line: the bytes `log[level](fields, 'request')` writes, made without pino's
 * generic formatter. That formatter walks any object key by key and escapes every string
 * character by character; in the broker it sees every kind of logger and string the process
 * logs, so V8 gives up specialising its property loads (megamorphic), and the one line every
 * request writes cost 17 thousand instructions of the hot path's 150 (bench/instructions-hot.ts;
 * the reference server, which logs nothing else, paid a third of that). Here the fields are
 * known, so each string is escaped by JSON.stringify (V8's own serializer) and the line joins
 * pino's prepared pieces: level, time, the request logger's bindings, the line's end.
 * Anything that would make pino write something else takes pino's own path: a mixin, hooks,
 * formatters.log, a message prefix or nested key, serializers or redaction on these keys (the
 * error serializer when errorKey names one), a replaced formatter or writer, a subscriber to
 * pino's diagnostics channel, a stream that wants the record's metadata, a logger that is not
 * pino. What it cannot see is a wrapper around a pino logger (a Proxy, a replaced info()): the
 * line skips it. The level's number is pino's standard one, as pino writes it for info and
 * debug even when customLevels renumbers them (lib/levels.js).
 * One difference: a lone UTF-16 surrogate in a string is written as a \u escape (JSON.stringify);
 * pino (before Node 25, where it uses JSON.stringify too) writes it raw, which UTF-8 output turns
 * into U+FFFD.
 */
export function writeAccessLine (log: AccessLogger, level: AccessLevel, fields: AccessFields): void {
  const state = log as unknown as PinoState
  if (!isPlainPino(state)) {
    log[level](definedOnly(fields), 'request')
    return
  }
  if (!state.isLevelEnabled(level)) return
  const levelLine = (state[symbols.lsCacheSym] as Record<number, string>)[STANDARD_LEVELS[level]]
  const time = (state[symbols.timeSym] as () => string)()
  let line = levelLine + time + (state[symbols.chindingsSym] as string) +
    ',"method":' + JSON.stringify(fields.method) +
    ',"route":' + JSON.stringify(fields.route) +
    ',"status":' + finite(fields.status) +
    ',"ms":' + finite(fields.ms)
  if (fields.caller !== undefined) line += ',"caller":' + JSON.stringify(fields.caller)
  if (fields.aborted !== undefined) line += ',"aborted":' + JSON.stringify(fields.aborted)
  line += ',"msg":"request"' + (state[symbols.endSym] as string);
  (state[symbols.streamSym] as { write (s: string): void }).write(line)
}

/** pino writes a number as JavaScript prints it, and a non-finite one as null */
function finite (n: number): string {
  return Number.isFinite(n) ? String(n) : 'null'
}

/** the fields without the absent ones, as the line leaves them out */
function definedOnly (fields: AccessFields): AccessFields {
  const { caller, aborted, ...always } = fields
  return { ...always, ...(caller !== undefined ? { caller } : {}), ...(aborted !== undefined ? { aborted } : {}) }
}

function isPlainPino (state: PinoState): boolean {
  if (typeof state[symbols.lsCacheSym] !== 'object' || typeof state[symbols.timeSym] !== 'function' ||
    typeof state[symbols.chindingsSym] !== 'string' || typeof state[symbols.endSym] !== 'string' || typeof state.isLevelEnabled !== 'function') return false
  if (state[symbols.asJsonSym] !== PINO_AS_JSON || state[symbols.writeSym] !== PINO_WRITE || asJsonTracing.hasSubscribers) return false
  const hooks = state[symbols.hooksSym] as { logMethod?: unknown, streamWrite?: unknown } | undefined
  const formatters = state[symbols.formattersSym] as { log?: unknown } | undefined
  const stream = state[symbols.streamSym] as Record<symbol, unknown> | undefined
  const serializers = state[symbols.serializersSym] as Record<string, unknown> | undefined
  const stringifiers = state[symbols.stringifiersSym] as Record<string | symbol, unknown> | undefined
  if (state[symbols.mixinSym] || hooks?.logMethod || hooks?.streamWrite || formatters?.log || state[symbols.msgPrefixSym] ||
    state[symbols.nestedKeySym] || state[symbols.messageKeySym] !== 'msg' || !stream || stream[symbols.needsMetadataGsym] === true) return false
  if (stringifiers?.[symbols.wildcardFirstSym]) return false
  for (const key of FIELDS) if (serializers?.[key] || stringifiers?.[key]) return false
  const errorKey = state[symbols.errorKeySym]
  if (typeof errorKey === 'string' && FIELDS.includes(errorKey) && serializers?.err) return false
  return true
}
