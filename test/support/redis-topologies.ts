import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { freePort } from './redis.ts'
import type { TestPki } from './redis-tls.ts'

/**
 * Real Redis topologies on loopback, built from the `redis-server` binary (`redis-server --sentinel`
 * is Sentinel; Debian's redis-sentinel package only adds a service around it) and `redis-cli
 * --cluster create` (redis-tools, a dependency of Debian's redis-server package). No persistence;
 * every process is SIGKILLed and every directory removed on close.
 */

const run = promisify(execFile)
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** Polls `check` until it is true; throws `what` after the bound (generous: CI machines are shared). */
export async function until (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await check()) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/**
 * The broker's least-privilege ACL rules (README, Redis: surviving a node loss): on data nodes every
 * command on its keys and channels but the @dangerous ones, INFO excepted (ioredis' ready check); on
 * sentinels what ioredis asks them (the primary, the other sentinels) and hears (+switch-master).
 */
export const BROKER_ACL_RULES = ['+@all', '-@dangerous', '+info']
export const BROKER_SENTINEL_ACL_RULES = ['-@all', '+sentinel|get-master-addr-by-name', '+sentinel|sentinels', '+subscribe', '&+switch-master']

/** Extra server options for every node. */
export interface NodeSecurity {
  /** `requirepass` of the default user; nodes (and sentinels) authenticate to each other with it */
  password?: string
  /**
   * one more ACL user on every node (`user` directive: name, then its rules), as the README recommends
   * for the broker; with `sentinelRules`, the same user on every sentinel (SentinelSet)
   */
  aclUser?: { name: string, rules: string[], sentinelRules?: string[] }
  /** RedisClusterSet only: TLS only (no plain port), between nodes too (`tls-cluster`, `tls-replication`), with this PKI's server certificate */
  tls?: TestPki
}

/** Resolves once something answers on the port (a NOAUTH refusal counts: the server is up). */
export async function waitForServer (port: number, alive: () => boolean, timeoutMs = 15_000, o: { tls?: { ca: string, cert: string, key: string } } = {}): Promise<void> {
  const tls = o.tls ? { ca: readFileSync(o.tls.ca), cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) } : undefined
  await until(`a server on port ${port}`, async () => {
    if (!alive()) throw new Error(`the server on port ${port} exited`)
    const probe = new Redis<'legacy'>({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...(tls ? { tls } : {}) })
    // an authentication refusal is an answer: the server is up (ioredis 6 reports a refused HELLO
    // as an error event, then closes the connection)
    let refused = false
    const isRefusal = (err: Error) => /NOAUTH|WRONGPASS|NOPERM/.test(err.message)
    probe.on('error', (err: Error) => { refused ||= isRefusal(err) })
    try {
      await probe.connect()
      await probe.ping()
      return true
    } catch (err) {
      if (refused || isRefusal(err as Error)) return true
      throw err
    } finally {
      probe.disconnect()
    }
  }, timeoutMs).catch((err: Error) => {
    if (!alive()) throw new Error(`the server on port ${port} exited`)
    throw err
  })
}

class RedisProcess {
  proc: ChildProcess | null = null
  readonly port: number
  private readonly args: string[]
  private readonly tls: TestPki | undefined
  constructor (port: number, args: string[], tls?: TestPki) {
    this.port = port
    this.args = args
    this.tls = tls
  }

  async start (): Promise<void> {
    const child = spawn('redis-server', this.args, { stdio: 'ignore' })
    this.proc = child
    const tls = this.tls ? { tls: { ca: this.tls.caFile, cert: this.tls.clientCert, key: this.tls.clientKey } } : {}
    await waitForServer(this.port, () => child.exitCode === null, 15_000, tls)
  }

  get alive (): boolean {
    return this.proc !== null && this.proc.exitCode === null
  }

  async kill (): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve())
      p.kill('SIGKILL')
    })
    this.proc = null
  }
}

function serverArgs (port: number, dir: string, s: NodeSecurity, extra: string[]): string[] {
  const auth = s.password ? ['--requirepass', s.password, '--masterauth', s.password] : []
  const listen = s.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', s.tls.serverCert, '--tls-key-file', s.tls.serverKey, '--tls-ca-cert-file', s.tls.caFile,
        '--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes']
    : ['--port', String(port)]
  const user = s.aclUser ? ['--user', s.aclUser.name, ...s.aclUser.rules] : []
  return [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', ...auth, ...user, ...extra]
}

abstract class Topology {
  private readonly clients = new Map<number, Redis>()
  protected readonly dir: string
  protected readonly security: NodeSecurity
  protected constructor (dir: string, security: NodeSecurity) {
    this.dir = dir
    this.security = security
  }

  /** A plain client to one node (for assertions and fault injection); one per port, kept until close. */
  node (port: number): Redis {
    let c = this.clients.get(port)
    if (!c) {
      // a killed node's commands time out instead of hanging a poll
      const tls = this.security.tls ? { tls: { ca: readFileSync(this.security.tls.caFile) } } : {}
      c = new Redis<'legacy'>({ port, host: '127.0.0.1', password: this.security.password, maxRetriesPerRequest: 0, commandTimeout: 1000, retryStrategy: () => 200, ...tls })
      c.on('error', () => {})
      this.clients.set(port, c)
    }
    return c
  }

  protected abstract processes (): RedisProcess[]

  /** Runs the topology's start-up; a half-started one is closed (no orphaned redis-server) before the error goes on. */
  protected async started (startUp: () => Promise<void>): Promise<this> {
    try {
      await startUp()
      await this.waitHealthy()
    } catch (err) {
      await this.close()
      throw err
    }
    return this
  }

  protected abstract waitHealthy (): Promise<void>

  async close (): Promise<void> {
    for (const c of this.clients.values()) c.disconnect()
    await Promise.all(this.processes().map(p => p.kill()))
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** A primary, one replica and three sentinels (quorum 2), failing over about a second after a kill. */
export class SentinelSet extends Topology {
  readonly name = 'sfbprimary'
  readonly primary: RedisProcess
  readonly replica: RedisProcess
  readonly sentinels: RedisProcess[]
  private constructor (dir: string, security: NodeSecurity, primary: RedisProcess, replica: RedisProcess, sentinels: RedisProcess[]) {
    super(dir, security)
    this.primary = primary
    this.replica = replica
    this.sentinels = sentinels
  }

  /**
   * Another process can take one of the five ports between freePort() and redis-server's bind (a
   * stress run saw a node exit while starting): the whole set, whose configurations name each
   * other's ports, is then started again on new ones.
   */
  static async start (security: NodeSecurity = {}, attempts = 3): Promise<SentinelSet> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await SentinelSet.startOnce(security)
      } catch (err) {
        if (attempt >= attempts || !/exited/.test((err as Error).message)) throw err
      }
    }
  }

  private static async startOnce (security: NodeSecurity): Promise<SentinelSet> {
    const dir = await mkdtemp(join(tmpdir(), 'sfb-sentinel-'))
    const [p, r, ...s] = await Promise.all(Array.from({ length: 5 }, () => freePort()))
    const primary = new RedisProcess(p, serverArgs(p, dir, security, ['--dbfilename', 'primary.rdb']))
    const replica = new RedisProcess(r, serverArgs(r, dir, security, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(p)]))
    const sentinels: RedisProcess[] = []
    for (const port of s) {
      // a sentinel rewrites its own config file: each needs a writable one
      const file = join(dir, `sentinel-${port}.conf`)
      await writeFile(file, [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'sentinel resolve-hostnames no',
        'sentinel monitor sfbprimary 127.0.0.1 ' + String(p) + ' 2',
        ...(security.password ? [`sentinel auth-pass sfbprimary ${security.password}`, `requirepass ${security.password}`] : []),
        ...(security.aclUser?.sentinelRules ? [`user ${security.aclUser.name} ${security.aclUser.sentinelRules.join(' ')}`] : []),
        'sentinel down-after-milliseconds sfbprimary 1000',
        'sentinel failover-timeout sfbprimary 5000',
        'sentinel parallel-syncs sfbprimary 1',
      ].join('\n') + '\n')
      sentinels.push(new RedisProcess(port, [file, '--sentinel', '--loglevel', 'warning']))
    }
    const set = new SentinelSet(dir, security, primary, replica, sentinels)
    return await set.started(async () => {
      await primary.start()
      await replica.start()
      await Promise.all(sentinels.map(x => x.start()))
    })
  }

  protected processes (): RedisProcess[] {
    return [this.primary, this.replica, ...this.sentinels]
  }

  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME for the broker */
  get env (): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinels.map(s => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_NAME: this.name }
  }

  /** The port of the node the sentinels call primary now. */
  async currentPrimary (): Promise<number> {
    const answer = await this.node(this.sentinels[0].port).call('SENTINEL', 'get-master-addr-by-name', this.name) as [string, string]
    return Number(answer[1])
  }

  /** Replica in sync, and every sentinel knows the replica and the two other sentinels (so it can vote). */
  async waitHealthy (): Promise<void> {
    const primaryPort = await this.currentPrimary()
    await until('the replica to sync', async () => /slave0:.*state=online/.test(await this.node(primaryPort).info('replication')))
    await until('the sentinels to meet', async () => {
      for (const s of this.sentinels) {
        const c = this.node(s.port)
        const replicas = await c.call('SENTINEL', 'replicas', this.name) as unknown[]
        const others = await c.call('SENTINEL', 'sentinels', this.name) as unknown[]
        if (replicas.length < 1 || others.length < 2) return false
      }
      return true
    }, 60_000)
  }

  /** SIGKILLs the current primary; resolves once the sentinels have promoted the replica (ms taken). */
  async killPrimary (): Promise<{ killedPort: number, newPort: number, failoverMs: number }> {
    const killedPort = await this.currentPrimary()
    const victim = killedPort === this.primary.port ? this.primary : this.replica
    const started = Date.now()
    await victim.kill()
    let newPort = killedPort
    await until('the sentinels to promote the replica', async () => {
      newPort = await this.currentPrimary()
      return newPort !== killedPort && (await this.node(newPort).info('replication')).includes('role:master')
    }, 60_000)
    return { killedPort, newPort, failoverMs: Date.now() - started }
  }
}

/**
 * A free port whose cluster bus port (port + 10000, Redis' fixed offset; redis-server refuses a
 * port above 55535 in cluster mode) is free too. Linux hands out listening ports from the lower half
 * of its ephemeral range and outgoing connections' local ports from the upper half, where the bus
 * ports fall: under load a test's client connections can hold one.
 */
async function freeClusterPort (): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + 10_000 > 65_535) continue
    const busFree = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port + 10_000, '127.0.0.1', () => probe.close(() => resolve(true)))
    })
    if (busFree) return port
  }
}

/**
 * One cluster node on a free port pair. Another process can still take the port, or its bus port,
 * between the check and redis-server's bind: a node that exits while starting is started again on
 * another pair (in 18 suite runs under stress, one did).
 */
async function startClusterNode (dir: string, security: NodeSecurity, attempts = 3): Promise<RedisProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeClusterPort()
    const node = new RedisProcess(port, serverArgs(port, dir, security, [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${port}.conf`,
      '--dbfilename', `dump-${port}.rdb`,
      // failure detection and replica promotion in about a second
      '--cluster-node-timeout', '1000',
      '--cluster-replica-validity-factor', '0',
    ]), security.tls)
    try {
      await node.start()
      return node
    } catch (err) {
      await node.kill()
      // only a node that exited by itself while starting (a port taken meanwhile) is tried again
      if (attempt >= attempts || !/exited/.test((err as Error).message)) throw err
    }
  }
}

/** Three masters, each with one replica, slots spread by `redis-cli --cluster create`. */
export class RedisClusterSet extends Topology {
  readonly nodes: RedisProcess[]
  private constructor (dir: string, security: NodeSecurity, nodes: RedisProcess[]) {
    super(dir, security)
    this.nodes = nodes
  }

  static async start (security: NodeSecurity = {}): Promise<RedisClusterSet> {
    const dir = await mkdtemp(join(tmpdir(), 'sfb-cluster-'))
    const nodes: RedisProcess[] = []
    const set = new RedisClusterSet(dir, security, nodes)
    return await set.started(async () => {
      // every start is settled before a failure is thrown, so that close() stops each node that did start
      const starts = await Promise.allSettled(Array.from({ length: 6 }, () => startClusterNode(dir, security)))
      for (const s of starts) if (s.status === 'fulfilled') nodes.push(s.value)
      const failed = starts.find(s => s.status === 'rejected')
      if (failed) throw failed.reason
      const auth = security.password ? ['-a', security.password, '--no-auth-warning'] : []
      const tls = security.tls ? ['--tls', '--cacert', security.tls.caFile] : []
      await run('redis-cli', [...auth, ...tls, '--cluster', 'create', ...nodes.map(n => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 })
    })
  }

  protected processes (): RedisProcess[] {
    return this.nodes
  }

  /** REDIS_CLUSTER_NODES for the broker: two seeds, as an operator would give */
  get env (): Record<string, string> {
    const scheme = this.security.tls ? 'rediss' : 'redis'
    return {
      REDIS_CLUSTER_NODES: this.nodes.slice(0, 2).map(n => `${scheme}://127.0.0.1:${n.port}`).join(','),
      ...(this.security.tls ? { REDIS_TLS_CA_FILE: this.security.tls.caFile } : {}),
    }
  }

  private liveNodes (): RedisProcess[] {
    return this.nodes.filter(n => n.alive)
  }

  /** cluster_state:ok on every live node, and every master's replica in sync. */
  async waitHealthy (): Promise<void> {
    await until('the cluster to be ok everywhere', async () => {
      for (const n of this.liveNodes()) {
        if (!(await this.node(n.port).call('CLUSTER', 'INFO') as string).includes('cluster_state:ok')) return false
      }
      return true
    }, 60_000)
    await until('every replica to sync', async () => {
      for (const n of this.liveNodes()) {
        const info = await this.node(n.port).info('replication')
        if (info.includes('role:master') && !/slave0:.*state=online/.test(info)) return false
      }
      return true
    }, 60_000)
  }

  /** Port of the master serving `key` now. */
  async masterOf (key: string): Promise<number> {
    const probe = this.node(this.liveNodes()[0].port)
    const slot = await probe.call('CLUSTER', 'KEYSLOT', key) as number
    const slots = await probe.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number]]>
    const range = slots.find(([from, to]) => slot >= from && slot <= to)
    if (!range) throw new Error(`slot ${slot} is not served`)
    return Number(range[2][1])
  }

  /** SIGKILLs the master serving `key`; resolves once its replica serves the slot (ms taken). */
  async killMasterOf (key: string): Promise<{ killedPort: number, newPort: number, failoverMs: number }> {
    const killedPort = await this.masterOf(key)
    const victim = this.nodes.find(n => n.port === killedPort) as RedisProcess
    const started = Date.now()
    await victim.kill()
    let newPort = killedPort
    await until('a replica to take over the slot', async () => {
      newPort = await this.masterOf(key)
      return newPort !== killedPort && (await this.node(newPort).call('CLUSTER', 'INFO') as string).includes('cluster_state:ok')
    }, 60_000)
    return { killedPort, newPort, failoverMs: Date.now() - started }
  }

  /** Ports of the live nodes holding pub/sub subscriptions (CLIENT LIST TYPE pubsub), with how many. */
  async subscriberNodes (): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    for (const n of this.liveNodes()) {
      const list = await this.node(n.port).call('CLIENT', 'LIST', 'TYPE', 'pubsub') as string
      const count = list.split('\n').filter(line => line.trim() !== '').length
      if (count > 0) out.set(n.port, count)
    }
    return out
  }

  /** SIGKILLs one node (master or replica) and waits until the cluster is ok again. */
  async killNode (port: number): Promise<number> {
    const started = Date.now()
    await (this.nodes.find(n => n.port === port) as RedisProcess).kill()
    // the others still say ok until they agree the node failed (cluster-node-timeout)
    await until('the cluster to mark the node failed', async () => {
      const nodes = await this.node(this.liveNodes()[0].port).call('CLUSTER', 'NODES') as string
      return nodes.split('\n').some(line => line.includes(`:${port}@`) && /\bfail\b/.test(line))
    }, 60_000)
    await until('the cluster to be ok without the node', async () => {
      for (const n of this.liveNodes()) {
        if (!(await this.node(n.port).call('CLUSTER', 'INFO') as string).includes('cluster_state:ok')) return false
      }
      return true
    }, 60_000)
    return Date.now() - started
  }

  /** Every key on every live master, with the slot it hashes to. */
  async keysBySlot (pattern: string): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for (const n of this.liveNodes()) {
      const c = this.node(n.port)
      if (!(await c.info('replication')).includes('role:master')) continue
      for (const key of await c.keys(pattern)) out.set(key, await c.call('CLUSTER', 'KEYSLOT', key) as number)
    }
    return out
  }
}
