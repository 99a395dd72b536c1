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

const FIELDS = ['method', 'route', 'status', 'ms', 'caller', 'aborted', 'msg'] as const

const symbols = pino.symbols as typeof pino.symbols & { readonly msgPrefixSym: symbol }

/** pino's per-logger state the line is made of (public as pino.symbols, "for integration with other libraries") */
interface PinoState {
  isLevelEnabled (level: string): boolean
  levels: { values: Record<string, number> }
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
 * Anything that would make pino write something else (a mixin, hooks, a log formatter, a
 * message prefix or nested key, serializers or redaction on these keys, a stream that wants the
 * record's metadata, or a logger that is not pino) takes pino's own path.
 * One difference that is not a difference: a lone UTF-16 surrogate in a string is written as a
 * \u escape (JSON.stringify) where pino writes it raw; both read back the same.
 */
export function writeAccessLine (log: AccessLogger, level: AccessLevel, fields: AccessFields): void {
  const state = log as unknown as PinoState
  if (!isPlainPino(state)) {
    log[level](fields, 'request')
    return
  }
  if (!state.isLevelEnabled(level)) return
  const levelLine = (state[symbols.lsCacheSym] as Record<number, string>)[state.levels.values[level]]
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

function isPlainPino (state: PinoState): boolean {
  if (typeof state[symbols.lsCacheSym] !== 'object' || typeof state[symbols.timeSym] !== 'function' ||
    typeof state[symbols.chindingsSym] !== 'string' || typeof state[symbols.endSym] !== 'string' || typeof state.isLevelEnabled !== 'function') return false
  const hooks = state[symbols.hooksSym] as { logMethod?: unknown, streamWrite?: unknown } | undefined
  const formatters = state[symbols.formattersSym] as { log?: unknown } | undefined
  const stream = state[symbols.streamSym] as Record<symbol, unknown> | undefined
  const serializers = state[symbols.serializersSym] as Record<string, unknown> | undefined
  const stringifiers = state[symbols.stringifiersSym] as Record<string | symbol, unknown> | undefined
  if (state[symbols.mixinSym] || hooks?.logMethod || hooks?.streamWrite || formatters?.log || state[symbols.msgPrefixSym] ||
    state[symbols.nestedKeySym] || state[symbols.messageKeySym] !== 'msg' || !stream || stream[symbols.needsMetadataGsym] === true) return false
  if (stringifiers?.[symbols.wildcardFirstSym]) return false
  for (const key of FIELDS) if (serializers?.[key] || stringifiers?.[key]) return false
  return true
}
