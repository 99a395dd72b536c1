import type { Notifier } from '../notifications/notifier.ts'
import type { FlowSunsetTable } from '../salesforce/flow-sunset.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import { certificateOnce, healthStatusOnce, sunsetOnce } from '../shared-state/state-names.ts'
import { certificateHealth } from './certificate-view.ts'
import { flowSunsetView } from './flow-sunset-view.ts'
import type { StoredHealth } from './health-result.ts'

const DAY_MS = 86_400_000
/** Long enough that a threshold is told once, for as long as the date it counts down to is not changed. */
const THRESHOLD_MEMORY_MS = 400 * DAY_MS

/**
 * Health's side of the events: a validated status that changed (one event per change, whichever
 * replica recorded it: the key names the result it replaced), and the days to a flow's retirement
 * or a certificate's expiry crossing a threshold.
 */
export class HealthEvents {
  private readonly notifier: Notifier
  private readonly opts: { flowSunsets: FlowSunsetTable, flowSunsetWarnDays: number, certificateWarnDays: number, now: () => number }

  constructor (notifier: Notifier, opts: HealthEvents['opts']) {
    this.notifier = notifier
    this.opts = opts
  }

  /** After a validation was recorded. A first result that is ok is no news. */
  statusRecorded (previous: StoredHealth | null, next: StoredHealth): void {
    const from = previous?.status ?? 'not_checked'
    if (from === next.status || (previous === null && next.status === 'ok')) return
    this.notifier.raise({
      type: 'connection.status_changed',
      connection: next.connection,
      data: {
        from,
        to: next.status,
        recovered: next.status === 'ok',
        classification: next.classification,
        secretVersion: next.secretVersion,
        consecutiveFailures: next.consecutiveFailures,
        // the broker's own advice; Salesforce's words (the message) stay in the admin view of /health/salesforce
        hint: next.hint ?? null,
        ...(next.lastSuccessAt === undefined ? {} : { lastSuccessAt: new Date(next.lastSuccessAt).toISOString() }),
      },
      once: { key: healthStatusOnce(next.connection, previous?.checkedAt ?? 0, next.status), ttlMs: DAY_MS },
    })
  }

  /** After each scheduled validation: has a countdown crossed a threshold? */
  datesChecked (connection: string, definition: ConnectionDefinition): void {
    const sunset = flowSunsetView(definition.flow, this.opts.flowSunsets, this.opts.now())
    const sunsetMark = sunset && crossed(sunset.daysLeft, this.opts.flowSunsetWarnDays)
    if (sunset && sunsetMark !== undefined) {
      this.notifier.raise({
        type: 'flow.sunset_threshold',
        connection,
        data: { flow: sunset.flow, date: sunset.date, daysLeft: sunset.daysLeft, thresholdDays: sunsetMark, moveTo: sunset.moveTo },
        once: { key: sunsetOnce(connection, sunset.flow, sunset.date, sunsetMark), ttlMs: THRESHOLD_MEMORY_MS },
      })
    }
    // a certificate expires in real time (the calendar above is the flows' announced dates), as health counts it
    const cert = certificateHealth(definition)
    const certMark = cert && crossed(cert.daysLeft, this.opts.certificateWarnDays)
    if (cert && certMark !== undefined) {
      this.notifier.raise({
        type: 'certificate.expiry_threshold',
        connection,
        data: { notAfter: cert.notAfter, daysLeft: cert.daysLeft, thresholdDays: certMark, fingerprint256: cert.fingerprint256 },
        once: { key: certificateOnce(connection, cert.fingerprint256, certMark), ttlMs: THRESHOLD_MEMORY_MS },
      })
    }
  }
}

/**
 * The threshold a countdown is at: the smallest of (warn days, 30, 7, 1, 0) not below the days
 * left; none before the warning window. Starting at 5 days left tells "7", not every mark above.
 */
export function crossed (daysLeft: number, warnDays: number): number | undefined {
  if (daysLeft > warnDays) return undefined
  const marks = [...new Set([warnDays, 30, 7, 1, 0])].filter(m => m <= warnDays).sort((a, b) => a - b)
  return marks.find(m => daysLeft <= m) ?? warnDays
}
