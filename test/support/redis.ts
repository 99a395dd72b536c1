import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/** Resolves once a redis-server answers PING on the port; throws after the timeout or when `alive()` says the server died. */
export async function waitForRedis (port: number, o: { timeoutMs?: number, alive?: () => boolean } = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 10_000)
  for (;;) {
    const probe = new Redis<'legacy'>({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    probe.on('error', () => {}) // refused until the server listens; connect() rejects with it too
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      return
    } catch {
      probe.disconnect()
      if (o.alive?.() === false || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
}

/**
 * Starts the redis-server process. Tests spawn it plainly; bench/ passes its own spawner, so the process
 * is registered with the bench's exit guards and logs into the run's directory.
 */
export type RedisLauncher = (command: string, args: string[]) => ChildProcess | Promise<ChildProcess>

const spawnQuietly: RedisLauncher = (command, args) => spawn(command, args, { stdio: 'ignore' })

export interface TestRedis {
  url: string
  port: number
  /** kill the server (connections drop, data is gone: no persistence) */
  stop (): Promise<void>
  /** start it again on the same port */
  start (): Promise<void>
  /** a plain client for assertions */
  client (): Redis
  /** empties every database (between benchmark scenarios) */
  flush (): Promise<void>
  close (): Promise<void>
}

/** A real redis-server of our own on a free port (never 6379), without persistence, so a test can stop and restart it. */
export async function startRedis (o: { launch?: RedisLauncher } = {}): Promise<TestRedis> {
  const launch = o.launch ?? spawnQuietly
  const port = await freePort()
  let proc: ChildProcess | null = null
  const clients: Redis[] = []
  // a folder of its own: a server made a replica (REPLICAOF) writes the copy it receives as dump.rdb
  // there, which would otherwise land in the test's working directory, shared with other servers
  const dir = mkdtempSync(join(tmpdir(), 'sfb-redis-'))

  const start = async () => {
    const child = await launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'])
    proc = child
    await waitForRedis(port, { alive: () => child.exitCode === null })
  }
  const stop = async () => {
    const p = proc
    if (!p || p.exitCode !== null) return
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve())
      p.kill('SIGKILL')
    })
    proc = null
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    client () {
      const c = new Redis<'legacy'>({ port, host: '127.0.0.1' })
      // the test may stop the server under this client: its reconnect errors are expected
      c.on('error', () => {})
      clients.push(c)
      return c
    },
    async flush () {
      const c = new Redis<'legacy'>({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 })
      c.on('error', () => {})
      try {
        await c.flushall()
      } finally {
        c.disconnect()
      }
    },
    async close () {
      for (const c of clients) c.disconnect()
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
