import { tracingChannel } from 'node:diagnostics_channel'
import { Writable } from 'node:stream'
import fc from 'fast-check'
import pino, { type Logger, type LoggerOptions } from 'pino'
import t from 'tap'
import { writeAccessLine, type AccessFields, type AccessLogger } from '../../src/http/access-line.ts'
import { loggerOptions } from '../../src/logger.ts'

/**
 * A pino child logger (a request's) writing into memory, with a fixed time so two loggers' lines
 * can be compared byte for byte. One per options, bindings and level: making a pino logger is
 * most of the cost of a call, and the property test below makes a thousand.
 */
const made = new Map<string, { logger: Logger, take: () => string }>()
const optionIds = new WeakMap<LoggerOptions, number>()
let optionCount = 0
function memoryLogger (options: LoggerOptions, bindings: Record<string, unknown>, level: string, side: string): { logger: Logger, take: () => string } {
  if (!optionIds.has(options)) optionIds.set(options, optionCount++)
  const key = `${side} ${optionIds.get(options)} ${level} ${JSON.stringify(bindings)}`
  let entry = made.get(key)
  if (!entry) {
    let text = ''
    const sink = new Writable({ write (chunk, _enc, cb) { text += String(chunk); cb() } })
    const root = pino({ ...options, level, timestamp: () => ',"time":"2026-12-05T23:00:00.000Z"' }, sink)
    entry = { logger: root.child(bindings), take: () => { const t = text; text = ''; return t } }
    made.set(key, entry)
  }
  return entry
}

/** What pino itself writes for the same call: the reference the access line must equal. */
function pinoLine (options: LoggerOptions, bindings: Record<string, unknown>, level: 'info' | 'debug', fields: AccessFields, loggerLevel = 'debug'): string {
  const { logger, take } = memoryLogger(options, bindings, loggerLevel, 'pino')
  logger[level](fields, 'request')
  return take()
}

function accessLine (options: LoggerOptions, bindings: Record<string, unknown>, level: 'info' | 'debug', fields: AccessFields, loggerLevel = 'debug'): string {
  const { logger, take } = memoryLogger(options, bindings, loggerLevel, 'ours')
  writeAccessLine(logger as unknown as AccessLogger, level, fields)
  return take()
}

const BROKER = loggerOptions('debug')
const REQUEST = { reqId: 'c0ffee00-0000-4000-8000-000000000001' }
const SESSION: AccessFields = { method: 'POST', route: '/v1/connections/:name/session', status: 200, ms: 0.42, caller: 'billing' }

t.test('the same bytes pino writes, with the broker\'s logger options (redaction, base, bindings)', async (t) => {
  const cases: Array<[string, AccessFields]> = [
    ['a session answer', SESSION],
    ['no caller (authentication failed)', { method: 'POST', route: '/v1/connections/:name/session', status: 401, ms: 1.5, caller: undefined }],
    ['an aborted answer', { ...SESSION, aborted: 'Error' }],
    ['a route no route matched', { method: 'GET', route: '(unmatched)', status: 404, ms: 0 }],
    ['quotes, backslashes, control characters and other scripts in a caller id', { ...SESSION, caller: 'a"b\\c\nd\te\u0001 ü 日本 😀' }],
    ['a caller id longer than 100 characters (pino hands those to JSON.stringify)', { ...SESSION, caller: 'x'.repeat(150) + '"' }],
    ['a non-finite time', { ...SESSION, ms: Number.NaN }],
  ]
  for (const [what, fields] of cases) {
    const expected = pinoLine(BROKER, REQUEST, 'info', fields)
    t.ok(expected.includes('"msg":"request"'), `${what}: pino wrote a line`)
    t.equal(accessLine(BROKER, REQUEST, 'info', fields), expected, what)
  }
  t.equal(accessLine(BROKER, REQUEST, 'debug', SESSION), pinoLine(BROKER, REQUEST, 'debug', SESSION), 'at debug (probes)')
  t.equal(accessLine(BROKER, { reqId: 'has "quotes"', extra: { nested: true } }, 'info', SESSION),
    pinoLine(BROKER, { reqId: 'has "quotes"', extra: { nested: true } }, 'info', SESSION), 'other bindings come as pino made them')
  const renumbered: LoggerOptions = { ...BROKER, customLevels: { info: 35, debug: 25 } }
  t.equal(accessLine(renumbered, REQUEST, 'info', SESSION), pinoLine(renumbered, REQUEST, 'info', SESSION), 'info renumbered by customLevels (pino still writes 30)')
  t.equal(accessLine(renumbered, REQUEST, 'debug', SESSION), pinoLine(renumbered, REQUEST, 'debug', SESSION), 'debug renumbered (pino still writes 20)')
  t.equal(accessLine({ ...BROKER, crlf: true }, REQUEST, 'info', SESSION), pinoLine({ ...BROKER, crlf: true }, REQUEST, 'info', SESSION), 'crlf line ends')
  const labels: LoggerOptions = { ...BROKER, formatters: { level: (label) => ({ severity: label.toUpperCase() }) } }
  t.equal(accessLine(labels, REQUEST, 'info', SESSION), pinoLine(labels, REQUEST, 'info', SESSION), 'a level formatter')
})

t.test('the broker\'s logger takes the short way: its info() is not called, yet the line is written', async (t) => {
  let text = ''
  const sink = new Writable({ write (chunk, _enc, cb) { text += String(chunk); cb() } })
  const request = pino({ ...BROKER, level: 'debug' }, sink).child(REQUEST)
  let generic = 0
  const info = request.info.bind(request)
  request.info = ((...args: Parameters<typeof info>) => { generic++; info(...args) }) as typeof request.info
  writeAccessLine(request as unknown as AccessLogger, 'info', SESSION)
  t.equal(generic, 0, 'pino\'s generic formatter was not asked')
  t.match(JSON.parse(text), { level: 30, service: 'sf-broker', reqId: REQUEST.reqId, ...SESSION, msg: 'request' })
})

t.test('any field values: the same record as pino\'s, and the same bytes unless a string holds a lone surrogate', async (t) => {
  const text = fc.string({ unit: 'binary', maxLength: 120 })
  fc.assert(fc.property(
    fc.record({ method: text, route: text, status: fc.integer({ min: 100, max: 599 }), ms: fc.double({ noNaN: false }), caller: fc.option(text, { nil: undefined }), aborted: fc.option(text, { nil: undefined }) }),
    (fields) => {
      const ours = accessLine(BROKER, REQUEST, 'info', fields)
      const theirs = pinoLine(BROKER, REQUEST, 'info', fields)
      const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
      const wellFormed = ![fields.method, fields.route, fields.caller ?? '', fields.aborted ?? ''].some(s => lone.test(s))
      if (wellFormed) return ours === theirs
      return JSON.stringify(JSON.parse(ours)) === JSON.stringify(JSON.parse(theirs))
    }), { numRuns: 500 })
})

t.test('a level that is off writes nothing', async (t) => {
  t.equal(accessLine(BROKER, REQUEST, 'debug', SESSION, 'info'), '')
  t.equal(accessLine(BROKER, REQUEST, 'info', SESSION, 'warn'), '')
})

t.test('whatever would make pino write something else goes through pino itself', async (t) => {
  const options: Array<[string, LoggerOptions]> = [
    ['a mixin', { ...BROKER, mixin: () => ({ zone: 'eu' }) }],
    ['a log formatter', { ...BROKER, formatters: { log: (o) => ({ ...o, wrapped: true }) } }],
    ['a streamWrite hook', { ...BROKER, hooks: { streamWrite: (s) => s.replace('request', 'REQUEST') } }],
    ['a logMethod hook', { ...BROKER, hooks: { logMethod (args, method) { method.apply(this, [{ ...(args[0] as object), hooked: 1 }, 'hooked']) } } }],
    ['a message prefix', { ...BROKER, msgPrefix: '[http] ' }],
    ['a nested key', { ...BROKER, nestedKey: 'payload' }],
    ['another message key', { ...BROKER, messageKey: 'message' }],
    ['a serializer for a field', { ...BROKER, serializers: { caller: (c: string) => c.toUpperCase() } }],
    ['redaction of a field', { ...BROKER, redact: { paths: ['caller'], censor: '[redacted]' } }],
    ['redaction of every top-level key (a wildcard first)', { ...BROKER, redact: { paths: ['*'], censor: '[redacted]' } }],
    ['redaction of the message', { ...BROKER, redact: { paths: ['msg'], censor: '[redacted]' } }],
    ['a serializer for the message', { ...BROKER, serializers: { msg: (m: string) => m.toUpperCase() } }],
    ['the error key naming a field, with an error serializer', { ...BROKER, errorKey: 'caller', serializers: { err: (e: unknown) => `serialized:${String(e)}` } }],
  ]
  for (const [what, option] of options) {
    const expected = pinoLine(option, REQUEST, 'info', SESSION)
    t.equal(accessLine(option, REQUEST, 'info', SESSION), expected, what)
  }
  for (const [what, option] of options) {
    t.equal(accessLine(option, REQUEST, 'debug', SESSION), pinoLine(option, REQUEST, 'debug', SESSION), `${what}, at debug`)
  }
  const calls: unknown[][] = []
  const notPino = { info: (...args: unknown[]) => calls.push(['info', ...args]), debug: (...args: unknown[]) => calls.push(['debug', ...args]) }
  writeAccessLine(notPino, 'debug', SESSION)
  writeAccessLine(notPino, 'info', { method: 'GET', route: '(unmatched)', status: 404, ms: 1, caller: undefined, aborted: undefined })
  t.same(calls, [['debug', SESSION, 'request'], ['info', { method: 'GET', route: '(unmatched)', status: 404, ms: 1 }, 'request']], 'a logger that is not pino is called as a logger, absent fields left out')
  t.same(Object.keys(calls[1][1] as object), ['method', 'route', 'status', 'ms'])
})

t.test('a replaced formatter, and a subscriber to pino\'s diagnostics channel, are still served by pino', async (t) => {
  const { logger, take } = memoryLogger(BROKER, REQUEST, 'debug', 'replaced')
  const asJson = pino.symbols.asJsonSym
  const own = (logger as unknown as Record<symbol, (...args: unknown[]) => string>)[asJson]
  const replaced = function (this: unknown, ...args: unknown[]) { return own.apply(this, args).replace('billing', '[scrubbed]') }
  Object.defineProperty(logger, asJson, { value: replaced, configurable: true })
  writeAccessLine(logger as unknown as AccessLogger, 'info', SESSION)
  t.match(take(), /"caller":"\[scrubbed\]"/, 'the replacement ran')

  const started: unknown[] = []
  const channel = tracingChannel('pino_asJson')
  const subscriber = { start: (message: unknown) => { started.push(message) }, end () {}, asyncStart () {}, asyncEnd () {}, error () {} }
  channel.subscribe(subscriber)
  t.teardown(() => channel.unsubscribe(subscriber))
  accessLine(BROKER, REQUEST, 'info', SESSION)
  t.equal(started.length, 1, 'the subscriber saw the access line')
})

t.test('a stream that wants each record\'s metadata (pino.multistream) gets it', async (t) => {
  const received: Array<{ line: string, level: unknown }> = []
  const sink = new Writable({ write (chunk, _enc, cb) { cb() } })
  const multi = pino.multistream([{ level: 'debug', stream: sink }])
  const original = multi.write.bind(multi)
  multi.write = (line: string) => { received.push({ line, level: (multi as unknown as { lastLevel: unknown }).lastLevel }); original(line) }
  const logger = pino({ ...BROKER, level: 'debug' }, multi)
  writeAccessLine(logger.child(REQUEST) as unknown as AccessLogger, 'info', SESSION)
  t.equal(received.length, 1)
  t.equal(received[0].level, 30, 'the stream was told the level')
})
