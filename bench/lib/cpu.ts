import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { round, type LoadResult } from './measure.ts'

/**
 * CPU a child spends during load runs, per 1,000 answers: steadier than throughput on a shared
 * machine, since a process waiting for a core costs no CPU. Read from /proc (processCpuSeconds).
 */
export class CpuMeter {
  private seconds = 0
  private complete = true
  private readonly read: () => Promise<number | null>
  constructor (read: () => Promise<number | null>) { this.read = read }

  async during<T> (run: () => Promise<T>): Promise<T> {
    const before = await this.read()
    const result = await run()
    const after = await this.read()
    if (before === null || after === null) this.complete = false
    else this.seconds += after - before
    return result
  }

  msPer1k (runs: LoadResult[]): number | null {
    const answered = runs.reduce((n, r) => n + r.responses, 0)
    return this.complete && answered > 0 ? round(this.seconds * 1000 * 1000 / answered, 1) : null
  }
}

/** Runs `run` while every meter counts (the nesting costs two /proc reads each, microseconds). */
export function measuredBy<T> (meters: CpuMeter[], run: () => Promise<T>): Promise<T> {
  return meters.reduceRight<() => Promise<T>>((inner, meter) => () => meter.during(inner), run)()
}

/** Access lines in a log written by pino: proof the measured runs wrote one per request. */
export async function countAccessLines (file: string): Promise<number> {
  let n = 0
  const lines = createInterface({ input: createReadStream(file) })
  for await (const line of lines) if (line.includes('"msg":"request"')) n++
  return n
}
