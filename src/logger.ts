import pino, { type Logger, type LoggerOptions, type DestinationStream } from 'pino'
import { IsoTimeFormatter } from './iso-time.ts'

/**
 * Paths pino censors in log objects. Secrets reach the broker in request bodies (admin rotation),
 * headers, Salesforce answers and the secret store; any of them may end up attached to a log line
 * by a future change, so redaction is by field name, at the top level and inside every object
 * the code logs (and one level below those).
 *
 * No path starts with a wildcard: pino runs a wildcard-first redactor over the bindings of every
 * child logger, i.e. once per request (16 µs each, measured), even when nothing is logged.
 */
const SECRET_KEYS = [
  'password', 'securityToken', 'security_token', 'clientSecret', 'client_secret', 'privateKey', 'private_key',
  'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'sessionId', 'session_id', 'rejectedToken',
  'assertion', 'token', 'apiKey', 'secretId', 'secret_id', 'authorization', 'Authorization', 'x-vault-token', 'X-Vault-Token', 'cookie',
]

/** Objects the code logs (or might): their fields and their children's fields are redacted. */
const CONTAINERS = [
  'definition', 'candidate', 'stored', 'body', 'payload', 'data', 'patch', 'fields', 'session', 'entry', 'outcome',
  'err', 'error', 'cause', 'config', 'headers', 'auth', 'options', 'request', 'response', 'req', 'res', 'event',
]

/** pino path syntax: bracket notation for names that are not identifiers */
const seg = (k: string) => (k.includes('-') ? `["${k}"]` : `.${k}`)

export const REDACT_PATHS = [
  ...SECRET_KEYS.map(k => (k.includes('-') ? `["${k}"]` : k)),
  ...CONTAINERS.flatMap(c => SECRET_KEYS.flatMap(k => [`${c}${seg(k)}`, `${c}.*${seg(k)}`, `${c}.*.*${seg(k)}`])),
]

/**
 * pino's isoTime, made once per millisecond: under load dozens of lines share one, and
 * formatting a date for every access line was a fifth of the line's cost. A new millisecond
 * formats only its digits (IsoTimeFormatter).
 */
let stampedMs = -1
let stamp = ''
const stamps = new IsoTimeFormatter()
function isoTimeOncePerMs (): string {
  const now = Date.now()
  if (now !== stampedMs) {
    stampedMs = now
    stamp = `,"time":"${stamps.format(now)}"`
  }
  return stamp
}

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'sf-broker' },
    timestamp: isoTimeOncePerMs,
  }
}

/** Log lines go out in writes of about this many characters… */
const BATCH_CHARS = 8 * 1024
/** …or at least this often, so a quiet broker's lines are not held back. */
const FLUSH_EVERY_MS = 250

/**
 * Standard output in batches. Writing each line on its own costs about 5 µs of CPU per line
 * (a system call each, or sonic-boom's async buffering), i.e. per request once every request has an
 * access line; joining lines into one synchronous write costs about 0.4 µs per line (measured, see
 * the README's bench section). A line waits at most FLUSH_EVERY_MS, and
 * whatever is pending is written when the process exits, also on process.exit().
 */
class BatchedStdout {
  private pending = ''
  private readonly out = pino.destination({ dest: 1, sync: true })

  constructor () {
    setInterval(() => this.flush(), FLUSH_EVERY_MS).unref()
    process.once('exit', () => this.flush())
  }

  write (line: string): void {
    this.pending += line
    if (this.pending.length >= BATCH_CHARS) this.flush()
  }

  flush (): void {
    if (this.pending === '') return
    const text = this.pending
    this.pending = ''
    this.out.write(text)
  }
}

/** One per process: every logger writing to standard output shares it (tests build many apps). */
let stdout: BatchedStdout | undefined

export function createLogger (level: string, destination?: DestinationStream): Logger {
  return pino(loggerOptions(level), destination ?? (stdout ??= new BatchedStdout()))
}
