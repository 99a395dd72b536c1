import { Redis } from 'ioredis'
import { freePort, sleep, spawnChild, type StartedChild } from './children.ts'

export interface BenchRedis {
  url: string
  child: StartedChild
  flush (): Promise<void>
}

/** A redis-server of our own on a free port (never 6379), without persistence. */
export async function startRedis (): Promise<BenchRedis> {
  const port = await freePort()
  const { child } = await spawnChild({
    name: 'redis',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    env: { PATH: process.env.PATH },
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    probe.on('error', () => {}) // refused until the server listens; connect() rejects with it too
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      break
    } catch {
      probe.disconnect()
      if (child.proc.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port} (see ${child.logFile})`)
      await sleep(50)
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    child,
    async flush () {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 })
      client.on('error', () => {})
      try {
        await client.flushall()
      } finally {
        client.disconnect()
      }
    },
  }
}
