import { startRedis, type TestRedis } from '../../test/support/redis.ts'
import { spawnChild } from './children.ts'

/** The bench's Redis is the test kit's (test/support/redis.ts), started through the bench's own spawner. */
export type BenchRedis = TestRedis

/**
 * A redis-server of our own on a free port, registered with the bench's exit guards (so it is stopped
 * however the run ends) and logging into the run's directory.
 */
export async function startBenchRedis (): Promise<BenchRedis> {
  let logFile = ''
  try {
    return await startRedis({
      launch: async (command, args) => {
        const { child } = await spawnChild({ name: 'redis', command, args, env: { PATH: process.env.PATH } })
        logFile = child.logFile
        return child.proc
      },
    })
  } catch (err) {
    throw new Error(`${(err as Error).message}${logFile ? ` (see ${logFile})` : ''}`)
  }
}
