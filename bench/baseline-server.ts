import Fastify from 'fastify'

/**
 * The hot-path benchmark's yardstick: bare Fastify on the same Node, one POST route at the
 * broker's path, answering a JSON body exactly as long as the broker's session answer
 * (BODY_BYTES). What the broker costs beyond this is auth, the cache lookup and its hooks.
 *   BODY_BYTES=420 node bench/baseline-server.ts   → prints {"url":"http://127.0.0.1:PORT"}
 */
const EMPTY_BODY_BYTES = JSON.stringify({ padding: '' }).length

const bodyBytes = Number(process.env.BODY_BYTES ?? '400')
if (!Number.isInteger(bodyBytes) || bodyBytes < EMPTY_BODY_BYTES) {
  process.stderr.write(`baseline-server: BODY_BYTES must be an integer >= ${EMPTY_BODY_BYTES}\n`)
  process.exit(78)
}
const answer = { padding: 'x'.repeat(bodyBytes - EMPTY_BODY_BYTES) }

const app = Fastify({ logger: false })
app.post('/v1/connections/:name/session', async () => answer)

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? '0') })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('baseline-server: unexpected listen address')
process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${address.port}` }) + '\n')

const shutdown = (): void => { app.close().then(() => process.exit(0), () => process.exit(1)) }
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
