import { Redis } from 'ioredis'
import { waitForRedis } from '../../test/support/redis.ts'
import { freePort, spawnChild, type StartedChild } from './children.ts'

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
  try {
    await waitForRedis(port, { alive: () => child.proc.exitCode === null })
  } catch (err) {
    throw new Error(`${(err as Error).message} (see ${child.logFile})`)
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
