import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Leases, Streams } from '../shared-state/shared-state.ts'
import { notifyOnceLease, recentNotificationsStream } from '../shared-state/state-names.ts'
import type { WebhookCourier } from './courier.ts'
import { eventId, type NotificationEvent, type RaisedEvent } from './events.ts'

export interface NotifierOptions {
  state: Pick<Leases, 'claimOnce'> & Pick<Streams, 'appendToStream' | 'readStream'>
  /** absent when no WEBHOOK_URLS are set: events are still kept for /status */
  courier?: WebhookCourier
  logger: Logger
  /** how many recent events the shared list keeps (the status page shows them) */
  recentMax?: number
  now?: () => number
}

const DEFAULT_RECENT_MAX = 500

/**
 * The one place events are raised. Each event is sent once fleet-wide: one that several replicas
 * may notice (a status change, a threshold) carries a key, and only the replica that takes the
 * key first (SET NX in Redis, the same lease primitive as the login lease) keeps it; that replica
 * records it in the shared list of recent events and hands it to its courier. While Redis is
 * unreachable each replica decides alone, and when Redis is connected but too slow to say who took
 * the key, this replica tells the event rather than lose it (either way a copy may go out twice,
 * with the same id). Raising never throws: a notification must not fail the login or rotation it reports.
 */
export class Notifier {
  private readonly opts: NotifierOptions
  /** raises not yet handed to the courier (their once-key still on its way to Redis): close() waits for them */
  private readonly raising = new Set<Promise<NotificationEvent | null>>()

  constructor (opts: NotifierOptions) {
    this.opts = opts
  }

  /** The event as sent, or null when another replica (or an earlier call) already sent it. */
  async raise (raised: RaisedEvent): Promise<NotificationEvent | null> {
    const raising = this.raiseNow(raised)
    this.raising.add(raising)
    try {
      return await raising
    } finally {
      this.raising.delete(raising)
    }
  }

  private async raiseNow (raised: RaisedEvent): Promise<NotificationEvent | null> {
    try {
      if (raised.once) {
        const claim = await this.opts.state.claimOnce(notifyOnceLease(raised.once.key), randomBytes(8).toString('hex'), raised.once.ttlMs)
        if (claim === 'held') return null
        if (claim === 'unknown') this.opts.logger.warn({ type: raised.type, connection: raised.connection }, 'notification told without knowing whether another replica told it (Redis answered too late): a copy may arrive twice, with the same id')
      }
      const event: NotificationEvent = {
        id: eventId(raised.once),
        type: raised.type,
        occurredAt: new Date((this.opts.now ?? Date.now)()).toISOString(),
        ...(raised.connection === undefined ? {} : { connection: raised.connection }),
        data: raised.data,
      }
      this.opts.logger.info({ notification: event.id, type: event.type, connection: event.connection }, 'notification raised')
      this.opts.courier?.send(event)
      await this.opts.state.appendToStream(recentNotificationsStream(), JSON.stringify(event), this.opts.recentMax ?? DEFAULT_RECENT_MAX)
        .catch((err: Error) => this.opts.logger.warn({ err: { message: err.message } }, 'notification not written to the recent-events list'))
      return event
    } catch (err) {
      this.opts.logger.error({ type: raised.type, connection: raised.connection, err: { message: (err as Error).message } }, 'notification not raised')
      return null
    }
  }

  /** The newest events, fleet-wide (what this replica holds while Redis is unreachable). */
  async recent (limit: number): Promise<NotificationEvent[]> {
    const rows = await this.opts.state.readStream(recentNotificationsStream(), limit)
    return rows.map(r => JSON.parse(r.entry) as NotificationEvent)
  }

  /**
   * Shutdown, before the shared state closes: sources raise without waiting (an audit record, a
   * validation's result), so an event may still be claiming its key in Redis; it is waited for,
   * then the courier keeps what it could not deliver as dead letters while Redis still takes them.
   */
  async close (): Promise<void> {
    await Promise.allSettled([...this.raising])
    await this.opts.courier?.close()
  }
}
