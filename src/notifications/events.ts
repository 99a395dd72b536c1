import { createHash, randomUUID } from 'node:crypto'
import { Type, type Static } from 'typebox'

/**
 * What the broker tells webhook receivers about. Names are `<subject>.<what happened>` and never
 * change meaning: receivers switch on them.
 */
export const EVENT_TYPES = [
  /** a connection's validated status changed (ok, warn, degraded, failing); `data.recovered` when it is ok again */
  'connection.status_changed',
  /** the failure guard stopped logging in one failed login short of the Salesforce user's lockout */
  'login.guard_tripped',
  /** the Salesforce user spent 80 % of its logins of the rolling hour: only what cannot wait logs in now */
  'login.budget_reserve_reached',
  /** a connection's login flow is this many days from its announced retirement (FLOW_SUNSET_WARN_DAYS, 30, 7, 1, 0) */
  'flow.sunset_threshold',
  /** a JWT bearer connection's certificate is this many days from its expiry (CERT_EXPIRY_WARN_DAYS, 7, 1, 0) */
  'certificate.expiry_threshold',
  /** a secret rotation or rollback was validated and stored / was refused */
  'rotation.completed',
  'rotation.failed',
  /** a migration (flow change or key rotation) was completed / its validation or completion was refused */
  'migration.completed',
  'migration.failed',
  /** every session of a connection was revoked and dropped fleet-wide */
  'kill_switch.used',
] as const

export type EventType = typeof EVENT_TYPES[number]

const DataValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.String()), Type.Null()])

export const NotificationEventSchema = Type.Object({
  id: Type.String({ description: 'Stable across retries and replicas: receivers drop an id they have already handled (delivery is at least once)' }),
  type: Type.Enum(EVENT_TYPES),
  occurredAt: Type.String({ format: 'date-time' }),
  connection: Type.Optional(Type.String()),
  data: Type.Record(Type.String(), DataValue, { description: 'Facts of the event: statuses, classifications, counts, dates, the acting principal; never a secret, a token or text Salesforce wrote' }),
}, { $id: 'NotificationEvent', additionalProperties: false })
export type NotificationEvent = Static<typeof NotificationEventSchema>

export type EventData = NotificationEvent['data']

/** What a source raises; the notifier gives it an id and a time. */
export interface RaisedEvent {
  type: EventType
  connection?: string
  data: EventData
  /**
   * The event's identity when more than one replica (or one replica more than once) may notice
   * the same fact: the first to raise it fleet-wide wins, the others are dropped for `ttlMs`. The
   * id is derived from it, so even copies raised while Redis is unreachable carry one id.
   */
  once?: { key: string, ttlMs: number }
}

export function eventId (once: RaisedEvent['once']): string {
  if (!once) return `evt_${randomUUID().replaceAll('-', '')}`
  return `evt_${createHash('sha256').update(once.key).digest('hex').slice(0, 32)}`
}
