import { Transform, type Readable } from 'node:stream'

export type UploadFailure = 'payload_too_large' | 'request_timeout'

/**
 * The caller's request body on its way to Salesforce, streamed: at most `limitBytes` pass, and a
 * body that stops arriving for `idleMs` (a slow-loris upload holding a Salesforce connection and
 * a broker socket) is cut off. `failure()` says which limit ended it.
 */
export function guardedUpload (source: Readable, limitBytes: number, idleMs: number): { body: Transform, failure: () => UploadFailure | undefined } {
  let seen = 0
  let failed: UploadFailure | undefined
  let timer: NodeJS.Timeout | undefined
  const fail = (why: UploadFailure): void => {
    failed ??= why
    clearTimeout(timer)
    source.unpipe(body)
    source.resume()
    body.destroy(new Error(why))
  }
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => fail('request_timeout'), idleMs)
    timer.unref()
  }
  const body = new Transform({
    transform (chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > limitBytes) {
        fail('payload_too_large')
        return done()
      }
      arm()
      done(null, chunk)
    },
    flush (done) {
      clearTimeout(timer)
      done()
    },
  })
  body.on('close', () => clearTimeout(timer))
  // whoever reads the body (undici) sees the destroy; failure() tells the route why
  body.on('error', () => {})
  source.on('error', (err) => { clearTimeout(timer); body.destroy(err) })
  arm()
  source.pipe(body)
  return { body, failure: () => failed }
}

/** Reads a guarded body into memory (small bodies only: they can be sent again after a session renewal). */
export async function buffered (body: Transform): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
