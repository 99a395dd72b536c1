import { Transform, type Readable } from 'node:stream'
import { uploadedBytes } from './upload-memory.ts'

export type UploadFailure = 'payload_too_large' | 'request_timeout'

/**
 * The caller's request body on its way to Salesforce, streamed: at most `limitBytes` pass, and a
 * body that stops arriving for `idleMs` (a slow-loris upload holding a Salesforce connection and
 * a broker socket) is cut off. `failure()` says which limit ended it.
 */
export function guardedUpload (source: Readable, limitBytes: number, idleMs: number): { body: Transform, failure: () => UploadFailure | undefined } {
  let seen = 0
  let failed: UploadFailure | undefined
  let stopped = false
  // one timer, pushed back as each chunk arrives (refresh() allocates nothing, unlike a new setTimeout per chunk)
  const timer = setTimeout(() => fail('request_timeout'), idleMs)
  timer.unref()
  const stop = (): void => {
    stopped = true
    clearTimeout(timer)
  }
  const fail = (why: UploadFailure): void => {
    failed ??= why
    stop()
    source.unpipe(body)
    source.resume()
    body.destroy(new Error(why))
  }
  const arm = (): void => {
    if (!stopped) timer.refresh()
  }
  const body = new Transform({
    transform (chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > limitBytes) {
        fail('payload_too_large')
        return done()
      }
      arm()
      uploadedBytes(chunk.length)
      done(null, chunk)
    },
    flush (done) {
      stop()
      done()
    },
  })
  body.on('close', stop)
  // whoever reads the body (undici) sees the destroy; failure() tells the route why
  body.on('error', () => {})
  source.on('error', (err) => { stop(); body.destroy(err) })
  source.pipe(body)
  return { body, failure: () => failed }
}

/** Reads a guarded body into memory (small bodies only: they can be sent again after a session renewal). */
export async function buffered (body: Transform): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
