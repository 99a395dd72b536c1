import type { AuditLog } from '../admin/audit-log.ts'
import type { AuditEvent } from '../schemas/connection.ts'
import { auditOnce } from '../shared-state/state-names.ts'
import type { EventData, RaisedEvent } from './events.ts'
import type { Notifier } from './notifier.ts'

const DAY_MS = 86_400_000

/**
 * Rotations, migrations and the kill switch, read from the audit: every admin action is recorded
 * there with its outcome, on the replica that did it, so the audit record is the one funnel and
 * no admin path can change without its event. The audit log is followed, not changed: its
 * `record` is wrapped on this instance.
 */
export function notifyFromAudit (audit: Pick<AuditLog, 'record'>, notifier: Notifier): void {
  const record = audit.record.bind(audit)
  audit.record = async (input) => {
    const event = await record(input)
    const raised = adminEvent(event)
    if (raised) notifier.raise(raised).catch(() => {})
    return event
  }
}

/** The notification an audit record stands for, if any. */
export function adminEvent (e: AuditEvent): RaisedEvent | undefined {
  const type = adminEventType(e)
  if (!type) return undefined
  const data: EventData = { action: e.action, outcome: e.outcome, actor: e.actor }
  if (e.classification !== undefined) data.classification = e.classification
  if (e.version !== undefined) data.version = e.version
  if (e.fromVersion !== undefined) data.fromVersion = e.fromVersion
  if (e.requestId !== undefined) data.requestId = e.requestId
  return { type, ...(e.connection === undefined ? {} : { connection: e.connection }), data, once: { key: auditOnce(e.id), ttlMs: DAY_MS } }
}

/** Actions that store a new secret version in one step: a rotation of fields, a replacement, a rollback. */
const ONE_STEP_ROTATIONS = /\.rotate$|^connection\.(replace|rollback)$/

function adminEventType (e: AuditEvent): RaisedEvent['type'] | undefined {
  const ok = e.outcome === 'success'
  if (ONE_STEP_ROTATIONS.test(e.action)) return ok ? 'rotation.completed' : 'rotation.failed'
  // staged rotations (consumer_rotation.*, and any other *rotation.*): told when completed, or when the validation failed (refused by Salesforce, or Salesforce unreachable)
  if (/rotation\.complete$/.test(e.action)) return ok ? 'rotation.completed' : 'rotation.failed'
  if (/rotation\.validate$/.test(e.action) && !ok) return 'rotation.failed'
  if (e.action === 'migration.complete') return ok ? 'migration.completed' : 'migration.failed'
  // a validation that failed (refused by Salesforce, or Salesforce unreachable): the migration cannot complete yet
  if (e.action === 'migration.validate' && !ok) return 'migration.failed'
  if (e.action === 'sessions.revoke') return 'kill_switch.used'
  return undefined
}
