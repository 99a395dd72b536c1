/**
 * Date.prototype.toISOString, remembered per second. V8 formats every field of the date through
 * snprintf: about 7 thousand instructions a call (counted with callgrind, bench/instructions-hot.ts),
 * and the broker formats two times that move every millisecond, the log lines' time stamp and a
 * cached session's expiresAt. Within one second only the milliseconds change, so only they are
 * formatted again. One formatter per stream of times: two callers in different seconds would
 * take turns evicting each other's second.
 */
/** the largest time a JavaScript date holds: 100,000,000 days (ECMA-262, "Time Values and Time Range") */
const MAX_DATE_MS = 8.64e15

export class IsoTimeFormatter {
  /** epoch milliseconds of the remembered second's start */
  private second = Number.NaN
  /** its ISO text up to and including the '.' before the milliseconds */
  private head = ''

  /** The same text as new Date(ms).toISOString() (which throws RangeError for an invalid date). */
  format (ms: number): string {
    // outside ±8.64e15 a date is invalid (and toISOString throws), even in a second already remembered
    if (!Number.isInteger(ms) || Math.abs(ms) > MAX_DATE_MS) return new Date(ms).toISOString()
    // a time before 1970 is negative: its milliseconds within the second still count up from the second's start
    const millis = ((ms % 1000) + 1000) % 1000
    const second = ms - millis
    if (second !== this.second) {
      const iso = new Date(ms).toISOString()
      // every ISO date ends ".mmmZ", the six-digit years of +275760 and -271821 too
      this.head = iso.slice(0, -4)
      this.second = second
      return iso
    }
    return this.head + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z'
  }
}
