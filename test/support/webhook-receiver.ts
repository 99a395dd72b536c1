import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'

/**
 * How a receiver checks a delivery, written the way the README tells receivers to (and not with
 * the broker's own code): the time stamp inside the window, then an HMAC-SHA256 of "<t>.<body>"
 * compared in constant time with any v1 signature of the header.
 */
export function verifyDelivery (header: string | undefined, body: string, secret: string, nowSeconds: number, windowSeconds = 300): boolean {
  if (!header) return false
  const parts = header.split(',').map(p => p.split('=') as [string, string])
  const t = Number(parts.find(([k]) => k === 't')?.[1])
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > windowSeconds) return false
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest()
  return parts.some(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected))
}

export interface Delivery {
  id: string
  type: string
  attempt: number
  body: string
  event: any
  signature: string
}

export interface WebhookReceiver {
  url: string
  /** every delivery that verified and was answered 2xx (a retry of one already taken shows up again) */
  received: Delivery[]
  /** requests refused: bad signature, or answered with an error status on purpose */
  refused: number
  /** answer this status instead of 204 until told otherwise (a receiver that is up but failing) */
  answer (status: number): void
  /** a real outage: the port stops listening (connections refused) until start() */
  stop (): Promise<void>
  start (): Promise<void>
  /** resolves with the first delivery (past or future) that matches */
  waitFor (match: (d: Delivery) => boolean, timeoutMs?: number): Promise<Delivery>
  /** resolves once `n` requests have been refused in all */
  waitForRefusals (n: number, timeoutMs?: number): Promise<void>
  close (): Promise<void>
}

/** A real HTTP receiver on a free loopback port that verifies every delivery with `secret`. */
export async function startReceiver (secret: string, now: () => number = Date.now): Promise<WebhookReceiver> {
  const received: Delivery[] = []
  const waiters: Array<() => void> = []
  let status = 204
  let refused = 0
  let port = 0
  const wake = () => { for (const w of waiters.splice(0)) w() }

  const handle = async (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const signature = String(req.headers['sfb-signature'] ?? '')
    if (!verifyDelivery(signature, body, secret, now() / 1000) || status >= 300) {
      refused++
      res.writeHead(status >= 300 ? status : 401).end()
      wake()
      return
    }
    const event = JSON.parse(body)
    received.push({ id: String(req.headers['sfb-event-id']), type: String(req.headers['sfb-event-type']), attempt: Number(req.headers['sfb-delivery-attempt']), body, event, signature })
    res.writeHead(status).end()
    wake()
  }

  let server: Server
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer((req, res) => { handle(req, res).catch(() => res.destroy()) })
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      port = (server.address() as { port: number }).port
      resolve()
    })
  })
  const stop = () => new Promise<void>(resolve => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
  await listen()

  const until = (ok: () => boolean, timeoutMs: number, what: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`webhook receiver: timed out waiting for ${what}`)), timeoutMs)
    const check = () => {
      if (ok()) {
        clearTimeout(timer)
        resolve()
      } else {
        waiters.push(check)
      }
    }
    check()
  })

  return {
    url: `http://127.0.0.1:${port}/hooks/sf-broker`,
    received,
    get refused () { return refused },
    answer (s: number) { status = s },
    stop,
    start: listen,
    async waitFor (match, timeoutMs = 8000) {
      await until(() => received.some(match), timeoutMs, 'a matching delivery')
      return received.find(match) as Delivery
    },
    async waitForRefusals (n, timeoutMs = 8000) {
      await until(() => refused >= n, timeoutMs, `${n} refusals`)
    },
    close: stop,
  }
}
