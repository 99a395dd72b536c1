import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { BenchCaller, BenchStore } from './fixtures.ts'
import { freePort, nodeCommand, processCpuSeconds, spawnChild, waitForHttp, type StartedChild } from './children.ts'

const run = promisify(execFile)

export interface BenchBroker {
  url: string
  child: StartedChild
  /** resident set size: the broker's own metric, or ps when /metrics does not say */
  rssBytes (): Promise<{ bytes: number, source: 'metrics' | 'ps' }>
  /** user + system CPU seconds the broker has used since it started (from /proc, as for the baseline) */
  cpuSeconds (): Promise<number | null>
}

export interface BrokerProcessOptions {
  name: string
  repoRoot: string
  store: BenchStore
  caller: BenchCaller
  redisUrl: string
  sessionEncryptionKey: string
  /** extra or overriding environment (scheduler settings…) */
  env?: Record<string, string>
  /** a program the broker's node runs under, with its arguments (e.g. valgrind's callgrind) */
  runUnder?: string[]
  /** node's own flags that NODE_OPTIONS does not take (e.g. --prof) */
  nodeArgs?: string[]
  /** how long the broker may take to answer /health/ready (longer under runUnder); default 30 s */
  readyTimeoutMs?: number
}

/**
 * A broker exactly as production starts it (`node src/server.ts`, configured from the environment
 * only), with Redis for shared sessions and the encrypted file store. Ready when /health/ready is 200.
 */
export async function startBroker (o: BrokerProcessOptions): Promise<BenchBroker> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    SECRET_STORE: 'file',
    FILE_STORE_PATH: o.store.path,
    FILE_STORE_KEY: o.store.keyBase64,
    PRINCIPALS_JSON: o.caller.principalsJson,
    LOGIN_URL_ALLOWLIST: 'http://127.0.0.1:*',
    SCHEDULER_ENABLED: 'false',
    // the per-caller limit protects Salesforce from one noisy service; a load test is one very noisy service
    CALLER_RATE_LIMIT_PER_MINUTE: '1000000000',
    REDIS_URL: o.redisUrl,
    SESSION_ENCRYPTION_KEY: o.sessionEncryptionKey,
    REDIS_KEY_PREFIX: 'sfb:',
    ...o.env,
  }
  const { child } = await spawnChild({ name: o.name, ...nodeCommand('src/server.ts', o), cwd: o.repoRoot, env })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/health/ready`, child, o.readyTimeoutMs ?? 30_000)
  return {
    url,
    child,
    async rssBytes () {
      const bytes = await metric(url, 'sfb_process_resident_memory_bytes')
      if (bytes !== null) return { bytes, source: 'metrics' }
      const { stdout } = await run('ps', ['-o', 'rss=', '-p', String(child.proc.pid)])
      return { bytes: Number(stdout.trim()) * 1024, source: 'ps' }
    },
    cpuSeconds: () => processCpuSeconds(child.proc.pid),
  }
}

/** One unlabelled sample from the broker's /metrics, or null when it is not there. */
async function metric (brokerUrl: string, name: string): Promise<number | null> {
  try {
    const res = await fetch(`${brokerUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })
    const match = new RegExp(`^${name}\\s+([0-9.e+-]+)$`, 'm').exec(await res.text())
    return match ? Number(match[1]) : null
  } catch {
    return null
  }
}
