import { createHmac } from 'node:crypto'

/** The header a delivery is signed in (README "Webhooks"). */
export const SIGNATURE_HEADER = 'sfb-signature'

/** How old a signature a receiver should still accept; told to receivers in the README, not enforced here. */
export const REPLAY_WINDOW_SECONDS = 300

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one `v1` per secret: the current
 * secret first, then the one being rotated out (WEBHOOK_SECRET_PREVIOUS), so a receiver that
 * still holds the old one keeps verifying during a rotation. The scheme is Stripe's: the time
 * is inside what is signed, so a captured delivery cannot be replayed with a new time stamp, and
 * a receiver refuses one older than its window. Each attempt is signed anew, with its own time.
 */
export function signatureHeader (body: string, secrets: readonly string[], unixSeconds: number): string {
  const t = Math.floor(unixSeconds)
  const signatures = secrets.map(secret => `v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`)
  return [`t=${t}`, ...signatures].join(',')
}
