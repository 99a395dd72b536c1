import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { Streams } from '../shared-state/shared-state.ts'
import { AuditFileSink } from './audit-file-sink.ts'
import { AuditLog } from './audit-log.ts'
import { AuditSinks, type AuditSink } from './audit-sink.ts'
import { AuditSyslogSink } from './audit-syslog-sink.ts'

type AuditSettings = Pick<Config, 'AUDIT_ADMIN_MAX_ENTRIES' | 'AUDIT_ADMIN_MAX_AGE_DAYS' | 'AUDIT_HANDOUTS_MAX_ENTRIES' | 'AUDIT_HANDOUTS_MAX_AGE_HOURS' |
  'AUDIT_FILE' | 'AUDIT_FILE_MAX_BYTES' | 'AUDIT_FILE_KEEP' | 'AUDIT_SYSLOG_URL' | 'AUDIT_SINK_REQUIRED'>

/** The audit as configured: two streams with their retention, and the durable sinks (none by default). */
export function createAuditLog (config: AuditSettings, logger: Logger, state: Streams): AuditLog {
  const sinks: AuditSink[] = []
  if (config.AUDIT_FILE) sinks.push(new AuditFileSink({ path: config.AUDIT_FILE, maxBytes: config.AUDIT_FILE_MAX_BYTES, keep: config.AUDIT_FILE_KEEP, logger }))
  if (config.AUDIT_SYSLOG_URL) sinks.push(new AuditSyslogSink({ url: config.AUDIT_SYSLOG_URL, logger }))
  const required = config.AUDIT_SINK_REQUIRED ?? sinks.length > 0
  if (required && sinks.length === 0) logger.warn('AUDIT_SINK_REQUIRED=true without AUDIT_FILE or AUDIT_SYSLOG_URL: nothing to require, admin writes are not refused')
  if (sinks.length > 0) logger.info({ sinks: sinks.map(s => s.name), refuseUnaudited: required }, 'audit sinks configured')
  const days = (n: number) => n > 0 ? n * 86_400_000 : undefined
  return new AuditLog({
    logger,
    state,
    retention: {
      admin: { maxEntries: config.AUDIT_ADMIN_MAX_ENTRIES, maxAgeMs: days(config.AUDIT_ADMIN_MAX_AGE_DAYS) },
      handouts: { maxEntries: config.AUDIT_HANDOUTS_MAX_ENTRIES, maxAgeMs: config.AUDIT_HANDOUTS_MAX_AGE_HOURS > 0 ? config.AUDIT_HANDOUTS_MAX_AGE_HOURS * 3_600_000 : undefined },
    },
    sinks: new AuditSinks(sinks, required),
  })
}
