import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { ConnectionOptions } from 'node:tls'
import type { Config } from '../config.ts'
import { readPeerTls } from '../config/pem-files.ts'

/** The Redis settings of the configuration (validated by src/config.ts). */
export type RedisSettings = Pick<Config,
  'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_CLUSTER_NODES' | 'REDIS_USERNAME' | 'REDIS_PASSWORD' |
  'REDIS_TLS_CA_FILE' | 'REDIS_TLS_CERT_FILE' | 'REDIS_TLS_KEY_FILE'>

export type RedisTopology = 'standalone' | 'sentinel' | 'cluster'

/** A connection to the configured Redis, whatever its topology: both speak the same commands. */
export type RedisClient = Redis | Cluster

/** What the client is for: commands fail fast while Redis is away, a subscriber waits for it. */
export type RedisRole = 'commands' | 'subscriber'

/** Which topology the settings name, or undefined when no Redis is configured. */
export function redisTopology (s: RedisSettings): RedisTopology | undefined {
  if (s.REDIS_URL) return 'standalone'
  if (s.REDIS_SENTINELS) return 'sentinel'
  if (s.REDIS_CLUSTER_NODES) return 'cluster'
  return undefined
}

interface Address { host: string, port: number }

function parseHostPort (entry: string): Address {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(entry.trim()) as RegExpExecArray
  return { host: m[1], port: Number(m[2]) }
}

function splitList (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(Boolean)
}

/**
 * TLS options when any REDIS_TLS_* file is set or `forced` (a rediss:// URL). The files are read
 * when the client is built, at start-up: a renewed certificate is picked up by a rolling restart.
 */
function tlsOptions (s: RedisSettings, forced: boolean): ConnectionOptions | undefined {
  if (!forced && !s.REDIS_TLS_CA_FILE && !s.REDIS_TLS_CERT_FILE) return undefined
  // checked as read (exit 78 naming the variable at start): a damaged file would otherwise fail every reconnection
  return readPeerTls('Redis', { ca: 'REDIS_TLS_CA_FILE', cert: 'REDIS_TLS_CERT_FILE', key: 'REDIS_TLS_KEY_FILE' }, { ca: s.REDIS_TLS_CA_FILE, cert: s.REDIS_TLS_CERT_FILE, key: s.REDIS_TLS_KEY_FILE })
}

/** Credentials: the ones in a URL win, as a URL is the more specific setting. */
function credentials (s: RedisSettings, url?: URL): Pick<RedisOptions, 'username' | 'password'> {
  const username = url?.username ? decodeURIComponent(url.username) : s.REDIS_USERNAME
  const password = url?.password ? decodeURIComponent(url.password) : s.REDIS_PASSWORD
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) }
}

/**
 * ioredis's options without `replyMapping`: the broker reads replies in ioredis's default ("legacy")
 * shape. Every `new Redis<'legacy'>` / `new Cluster<'legacy'>` names that mapping: inferred, it is a
 * fresh literal type, so `Redis` (the same class with its default) is compared with it member by
 * member, some 4 s of every type check of the project (eslint.config.js refuses the bare form).
 */
export type BrokerRedisOptions = Omit<RedisOptions, 'replyMapping'>

const common = (role: RedisRole): BrokerRedisOptions => ({
  connectTimeout: 2000,
  // a subscriber idles; its commands (SUBSCRIBE) may wait out a failover
  commandTimeout: role === 'commands' ? 1500 : undefined,
  maxRetriesPerRequest: 1,
  // reconnect forever, backing off to 2 s: a Redis restart must heal without restarting the broker
  retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000) + Math.floor(Math.random() * 100),
  // commands fail fast while Redis is away so the broker serves from process memory instead of
  // hanging requests; the subscriber queues its SUBSCRIBE and re-subscribes after each reconnect
  enableOfflineQueue: role === 'subscriber',
  // a failover behind one name (a managed Redis) or not yet announced by a sentinel leaves the
  // connection open to the old primary, now a replica, which refuses every write with READONLY until
  // the connection is made again, to whatever the name or the sentinels say now (ioredis README,
  // "Reconnect on error"). The command that met it fails; the next ones go to the new primary.
  reconnectOnError: (err) => err.message.startsWith('READONLY'),
})

/**
 * Builds the ioredis client for the configured topology. ioredis 6 speaks RESP3 by default (pub/sub
 * messages arrive as push frames); it is kept for every topology: Sentinel lookups use it too, and
 * Cluster slot refreshes use their own RESP2 connection (ioredis built/cluster/index.js).
 */
export function createRedisClient (s: RedisSettings, role: RedisRole, extra: Partial<BrokerRedisOptions> = {}): RedisClient {
  const topology = redisTopology(s)
  if (topology === 'standalone') {
    const url = new URL(s.REDIS_URL as string)
    const tls = tlsOptions(s, url.protocol === 'rediss:')
    return new Redis<'legacy'>(s.REDIS_URL as string, { ...common(role), ...credentials(s, url), ...(tls ? { tls } : {}), ...extra })
  }
  if (topology === 'sentinel') {
    const tls = tlsOptions(s, false)
    const auth = credentials(s)
    return new Redis<'legacy'>({
      ...common(role),
      sentinels: splitList(s.REDIS_SENTINELS as string).map(parseHostPort),
      name: s.REDIS_SENTINEL_NAME,
      ...auth,
      // one ACL user for the data nodes and the sentinels: what the chart and the README set up
      sentinelUsername: auth.username,
      sentinelPassword: auth.password,
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      // sentinels announce a new primary (+switch-master) before the old connection times out
      failoverDetector: true,
      ...extra,
    })
  }
  if (topology === 'cluster') {
    const seeds = splitList(s.REDIS_CLUSTER_NODES as string).map(u => new URL(u))
    const tls = tlsOptions(s, seeds.some(u => u.protocol === 'rediss:'))
    // a Cluster's replica answers a write with MOVED to its primary, which the client follows itself
    const { retryStrategy, enableOfflineQueue, reconnectOnError: _, ...perNode } = { ...common(role), ...extra }
    const options: Omit<ClusterOptions, 'redisOptions'> & { redisOptions: BrokerRedisOptions } = {
      enableOfflineQueue,
      clusterRetryStrategy: (times) => retryStrategy?.(times) ?? 2000,
      // a failover moves slots: ask again soon instead of failing the command
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      redisOptions: { ...perNode, ...credentials(s, seeds[0]), ...(tls ? { tls } : {}) },
    }
    return new Cluster<'legacy'>(seeds.map(u => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) })), options)
  }
  throw new Error('no Redis configured')
}

/**
 * ioredis' commandTimeout (lib/Command.ts, setTimeout): the command was written to a live
 * connection and its answer did not come in time. A command refused before it was sent ("Stream
 * isn't writeable", the offline queue being off) or cut off with its connection is not this.
 */
export function timedOut (err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out'
}
