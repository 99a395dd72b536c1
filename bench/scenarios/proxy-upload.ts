import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { sampleRss, type RssSummary } from '../lib/rss.ts'
import { round } from '../lib/measure.ts'

export const UPLOAD = {
  /** 100 MiB of CSV: under Bulk API 2.0's 150 MB of base64 per upload (about 112 MB of CSV) */
  bytes: 100 * 1024 * 1024,
  /** growth of the broker's RSS while it streams the upload: peak − before (30 MB) */
  rssGrowthTargetBytes: 30_000_000,
  rssSampleMs: 100,
  chunkBytes: 64 * 1024,
  timeoutMs: 180_000,
}

const HEADER = 'Name,BillingCity\n'
/** every row is as long, so the body's length is known up front (Content-Length, as clients send it) */
const rowOf = (i: number): string => `Bench account ${String(i).padStart(10, '0')},City ${String(i % 100_000).padStart(5, '0')}\n`
const ROW_BYTES = rowOf(0).length

export interface UploadResult {
  bytes: number
  rows: number
  status: number
  seconds: number
  megabytesPerSecond: number
  broker: RssSummary
  simulator: RssSummary
  /** what the simulator counted when the job was closed: every row arrived */
  recordsProcessed: number | null
  jobState: string | null
}

/**
 * A Bulk API 2.0 ingest job through the proxy: create the job, PUT ≥ 100 MiB of CSV generated on
 * the fly (never held in this process either), close the job and read back how many records
 * Salesforce (the simulator) counted. The broker's and the simulator's RSS are sampled from /proc
 * every 100 ms while the body streams.
 */
export async function proxiedUpload (o: { proxyBase: string, headers: Record<string, string>, brokerPid: number | undefined, simulatorPid: number | undefined }): Promise<UploadResult> {
  const ingest = `${o.proxyBase}/services/data/v62.0/jobs/ingest`
  const json = async (url: string, method: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(url, { method, headers: { ...o.headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
    const text = await res.text()
    if (!res.ok) throw new Error(`proxy upload: ${method} ${url.slice(url.indexOf('/services/'))} answered ${res.status}: ${text.slice(0, 300)}`)
    return JSON.parse(text) as Record<string, unknown>
  }
  const job = await json(ingest, 'POST', { object: 'Account', operation: 'insert', contentType: 'CSV', lineEnding: 'LF' })
  const jobUrl = `${ingest}/${String(job.id)}`

  const rows = Math.ceil((UPLOAD.bytes - HEADER.length) / ROW_BYTES)
  const bytes = HEADER.length + rows * ROW_BYTES
  const brokerRss = await sampleRss(o.brokerPid, UPLOAD.rssSampleMs)
  const simulatorRss = await sampleRss(o.simulatorPid, UPLOAD.rssSampleMs)
  const started = performance.now()
  let status: number
  let broker: RssSummary
  let simulator: RssSummary
  try {
    status = await put(`${jobUrl}/batches`, { ...o.headers, 'content-type': 'text/csv', 'content-length': String(bytes) }, csv(rows))
  } finally {
    // the sampler stops even when the upload fails, so no timer outlives the scenario
    broker = await brokerRss.stop()
    simulator = await simulatorRss.stop()
  }
  const seconds = (performance.now() - started) / 1000
  let recordsProcessed: number | null = null
  let jobState: string | null = null
  if (status === 201) {
    await json(jobUrl, 'PATCH', { state: 'UploadComplete' })
    // the simulator answers InProgress once, then JobComplete (clients poll)
    for (let i = 0; i < 5 && jobState !== 'JobComplete' && jobState !== 'Failed'; i++) {
      const info = await json(jobUrl, 'GET')
      jobState = String(info.state)
      recordsProcessed = Number(info.numberRecordsProcessed)
    }
  }
  return { bytes, rows, status, seconds: round(seconds, 2), megabytesPerSecond: round(bytes / 1e6 / seconds, 1), broker, simulator, recordsProcessed, jobState }
}

/** The CSV, made chunk by chunk as the socket asks for it. */
function csv (rows: number): Readable {
  let next = 0
  let headerSent = false
  const perChunk = Math.max(1, Math.floor(UPLOAD.chunkBytes / ROW_BYTES))
  return new Readable({
    read () {
      if (next >= rows) {
        this.push(null)
        return
      }
      let text = headerSent ? '' : HEADER
      headerSent = true
      const end = Math.min(rows, next + perChunk)
      for (; next < end; next++) text += rowOf(next)
      this.push(Buffer.from(text, 'latin1'))
    },
  })
}

function put (url: string, headers: Record<string, string>, body: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers, timeout: UPLOAD.timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const status = res.statusCode ?? 0
        if (status !== 201) reject(new Error(`proxy upload: PUT batches answered ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`))
        else resolve(status)
      })
    })
    req.on('timeout', () => req.destroy(new Error(`proxy upload: no answer within ${UPLOAD.timeoutMs} ms`)))
    req.on('error', reject)
    body.on('error', (err) => req.destroy(err))
    body.pipe(req)
  })
}
