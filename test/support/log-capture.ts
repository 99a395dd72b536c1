import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import { createLogger } from '../../src/logger.ts'

export interface LogCapture {
  logger: Logger
  /** every line written so far, as text */
  text (): string
  /** every line parsed */
  records (): Array<Record<string, unknown>>
}

/** A real pino logger with the broker's redaction, writing into memory so a test can read what would reach the log sink. */
export function captureLogs (level = 'debug'): LogCapture {
  const lines: string[] = []
  const sink = new Writable({
    write (chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const logger = createLogger(level, sink)
  return {
    logger,
    text: () => lines.join('\n'),
    records: () => lines.map(l => JSON.parse(l) as Record<string, unknown>),
  }
}
