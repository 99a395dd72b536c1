import fc from 'fast-check'
import t from 'tap'
import { IsoTimeFormatter } from '../src/iso-time.ts'

/** the valid range of a JavaScript date: ±100,000,000 days around 1970 */
const LIMIT = 8.64e15

t.test('the same text as toISOString for any time, in any order (each second remembered, then left)', async (t) => {
  fc.assert(fc.property(
    fc.array(fc.oneof(fc.integer({ min: -LIMIT, max: LIMIT }), fc.integer({ min: -3_000, max: 3_000 }), fc.integer({ min: 1_798_761_599_000, max: 1_798_761_601_000 })), { minLength: 1, maxLength: 40 }),
    (times) => {
      const formatter = new IsoTimeFormatter()
      for (const ms of times) {
        if (formatter.format(ms) !== new Date(ms).toISOString()) return false
      }
      return true
    }), { numRuns: 2_000 })
})

t.test('every millisecond across second, year and epoch boundaries, one after another', async (t) => {
  const formatter = new IsoTimeFormatter()
  const starts = [-2_000, Date.UTC(2026, 11, 31, 23, 59, 58), Date.UTC(9999, 11, 31, 23, 59, 58), -LIMIT, LIMIT - 2_000]
  let mismatches = 0
  for (const start of starts) {
    for (let ms = start; ms <= Math.min(start + 2_000, LIMIT); ms++) if (formatter.format(ms) !== new Date(ms).toISOString()) mismatches++
  }
  t.equal(mismatches, 0)
  t.equal(formatter.format(Date.UTC(2027, 1, 20, 0, 0, 0, 7)), '2027-02-20T00:00:00.007Z')
  t.equal(formatter.format(1.5), new Date(1.5).toISOString(), 'a fraction is cut as toISOString cuts it')
})

t.test('an invalid date throws as toISOString throws', async (t) => {
  const formatter = new IsoTimeFormatter()
  for (const bad of [Number.NaN, LIMIT + 1, Number.POSITIVE_INFINITY]) t.throws(() => formatter.format(bad), RangeError)
  formatter.format(LIMIT)
  t.throws(() => formatter.format(LIMIT + 1), RangeError, 'also right after the last valid second was remembered')
})
