import { readFile } from 'node:fs/promises'

/** A process's resident set size from /proc/<pid>/status (VmRSS, in kB), or null where there is no /proc. */
export async function vmRssBytes (pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : null
  } catch {
    return null
  }
}

export interface RssSummary {
  /** the sample taken when sampling began */
  beforeBytes: number
  peakBytes: number
  /** the last sample, taken when sampling stopped */
  afterBytes: number
  samples: number
}

/**
 * Samples a process's RSS every `everyMs` until stop(): the peak of a transfer that lasts seconds
 * (a 100 MB upload) is seen to within one interval of allocation.
 */
export async function sampleRss (pid: number | undefined, everyMs: number): Promise<{ stop (): Promise<RssSummary> }> {
  const first = await vmRssBytes(pid)
  if (first === null) throw new Error(`no /proc/${pid}/status: RSS cannot be sampled here`)
  let peak = first
  let last = first
  let samples = 1
  let reading: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    reading = vmRssBytes(pid).then((bytes) => {
      if (bytes === null) return
      samples++
      last = bytes
      peak = Math.max(peak, bytes)
    })
  }, everyMs)
  return {
    async stop () {
      clearInterval(timer)
      await reading
      const end = await vmRssBytes(pid)
      if (end !== null) {
        samples++
        last = end
        peak = Math.max(peak, end)
      }
      return { beforeBytes: first, peakBytes: peak, afterBytes: last, samples }
    },
  }
}
