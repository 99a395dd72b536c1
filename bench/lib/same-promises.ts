import type { BenchCaller } from './fixtures.ts'
import { freePort, nodeCommand, spawnChild, waitForHttp, type StartedChild } from './children.ts'

export interface SamePromisesOptions {
  /** the child's name in the bench's logs */
  name: string
  repoRoot: string
  /** the caller whose API key the reference checks, as the broker does */
  caller: BenchCaller
  /** the broker's answer length, which the reference answers with */
  bodyBytes: number
  logLevel?: string
  /** a program node runs under, with its arguments (e.g. valgrind's callgrind) */
  runUnder?: string[]
  /** node's own flags (e.g. --cpu-prof) */
  nodeArgs?: string[]
  /** more environment (e.g. names valgrind's vgdb needs) */
  env?: Record<string, string>
  /** how long it may take to answer /health/live (longer under runUnder); default 20 s */
  readyTimeoutMs?: number
}

export interface SamePromises {
  /** where it answers the session request: POST with the caller's key */
  sessionUrl: string
  child: StartedChild
}

/**
 * The hot path's reference (bench/same-promises-server.ts) as every bench starts it: the hot-path
 * scenario, the CPU profile and the instruction count compare the broker with the same server.
 * Ready when /health/live answers. Its access lines go to the child's log file, as the broker's do.
 */
export async function startSamePromises (o: SamePromisesOptions): Promise<SamePromises> {
  const port = await freePort()
  const { child } = await spawnChild({
    name: o.name,
    ...nodeCommand('bench/same-promises-server.ts', o),
    cwd: o.repoRoot,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
      BODY_BYTES: String(o.bodyBytes),
      PRINCIPALS_JSON: o.caller.principalsJson,
      LOG_LEVEL: o.logLevel ?? 'info',
      ...o.env,
    },
  })
  const base = `http://127.0.0.1:${port}`
  await waitForHttp(`${base}/health/live`, child, o.readyTimeoutMs)
  return { sessionUrl: `${base}/v1/connections/hot/session`, child }
}
