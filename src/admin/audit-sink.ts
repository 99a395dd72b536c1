import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'

/** One line of the durable audit: a record of the admin or hand-out stream, or an admin request about to be acted on. */
export interface AuditSinkRecord {
  stream: 'admin' | 'handouts'
  /** `request`: written before an admin write is acted on; `outcome`: what happened (the record the API lists) */
  stage: 'request' | 'outcome'
  time: string
  /** the whole record as one JSON object (no line breaks) */
  json: string
  /** rejected, conflict, error: syslog severity warning instead of notice */
  failed: boolean
}

/** Where audit records go besides the log line and the shared stream: a file, a syslog receiver. */
export interface AuditSink {
  readonly name: string
  /**
   * Resolves once the record is written durably (file: written and fsync'd; syslog: handed to the
   * kernel on an open socket). `retain`: on failure keep it and write it before later records.
   */
  write (record: AuditSinkRecord, retain: boolean): Promise<void>
  close (): Promise<void>
}

/** Records kept for a retry while a sink fails; beyond it the oldest hand-outs are dropped, then the oldest others (counted in the log). */
const MAX_BACKLOG = 10_000

interface Waiting { record: AuditSinkRecord, retain: boolean, resolve: () => void, reject: (err: Error) => void }

/**
 * A sink that writes in batches: records that arrive while a write is in flight go out together
 * in the next one (one fsync for many hand-outs). Records that failed with `retain` stay queued,
 * in order, ahead of later ones, so an outcome that could not be written is written before the
 * next admin write is admitted.
 */
export abstract class BatchingSink implements AuditSink {
  abstract readonly name: string
  protected readonly logger: Logger
  private queue: Waiting[] = []
  private backlog: AuditSinkRecord[] = []
  private dropped = 0
  private flushing: Promise<void> | null = null

  constructor (logger: Logger) {
    this.logger = logger
  }

  /** Writes every record of the batch durably, or throws (a partial write is undone where it can be). */
  protected abstract deliver (batch: AuditSinkRecord[]): Promise<void>
  abstract close (): Promise<void>

  write (record: AuditSinkRecord, retain: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, retain, resolve, reject })
      // the loop clears `flushing` itself when it finds the queue empty, in the same turn: a record
      // queued after that starts a new loop, never waits for one that has already decided to stop
      this.flushing ??= this.flush()
    })
  }

  /** Waits for what is queued now (tests, shutdown). */
  async drain (): Promise<void> {
    while (this.flushing) await this.flushing
  }

  private async flush (): Promise<void> {
    // first let `write` store this promise in `flushing`: the loop below clears it when it stops
    await Promise.resolve()
    try {
      while (this.queue.length > 0) await this.writeQueued()
    } finally {
      this.flushing = null
    }
  }

  private async writeQueued (): Promise<void> {
    const batch = this.queue
    this.queue = []
    const retried = this.backlog
    this.backlog = []
    try {
      await this.deliver([...retried, ...batch.map(w => w.record)])
    } catch (err) {
      const error = err as NodeJS.ErrnoException
      this.backlog = [...retried, ...batch.filter(w => w.retain).map(w => w.record)]
      if (this.backlog.length > MAX_BACKLOG) {
        // hand-outs go first, oldest first: a held admin outcome is the only durable record of an
        // action already answered, and hand-outs (never refused) keep coming while the sink fails
        const held = this.backlog.length
        let excess = held - MAX_BACKLOG
        this.backlog = this.backlog.filter(r => r.stream !== 'handouts' || excess-- <= 0)
        if (this.backlog.length > MAX_BACKLOG) this.backlog = this.backlog.slice(-MAX_BACKLOG)
        this.dropped += held - this.backlog.length
      }
      this.logger.error({ sink: this.name, err: { message: error.message, code: error.code }, held: this.backlog.length, dropped: this.dropped }, 'audit sink write failed')
      for (const w of batch) w.reject(error)
      return
    }
    if (retried.length > 0) this.logger.info({ sink: this.name, records: retried.length, dropped: this.dropped }, 'audit sink writable again: held records written')
    this.dropped = 0
    for (const w of batch) w.resolve()
  }
}

/**
 * The audit devices together. Like Vault's audit broker (hashicorp/vault, vault/audit_broker.go,
 * AuditBroker.LogRequest: "no audit backend succeeded in logging the request"), a record counts as
 * written when at least one sink wrote it; when none did, an admin write is refused before it is
 * acted on (`requireForAdminWrites`).
 */
export class AuditSinks {
  readonly sinks: AuditSink[]
  /** refuse an admin write whose request record no sink could write (AUDIT_SINK_REQUIRED) */
  readonly requireForAdminWrites: boolean

  constructor (sinks: AuditSink[], requireForAdminWrites: boolean) {
    this.sinks = sinks
    this.requireForAdminWrites = requireForAdminWrites
  }

  /** Resolves when at least one sink wrote the record; rejects when none did (or there is none). */
  async write (record: AuditSinkRecord, retain: boolean): Promise<void> {
    const results = await Promise.allSettled(this.sinks.map(s => s.write(record, retain)))
    if (results.some(r => r.status === 'fulfilled')) return
    throw new DomainError('audit_unavailable', `the audit record could not be written to ${this.sinks.map(s => s.name).join(' or ')}, so the action was not done; fix the audit sink (see the broker's "audit sink write failed" log line) and retry`, { retryable: true })
  }

  async close (): Promise<void> {
    await Promise.all(this.sinks.map(s => s.close()))
  }
}
