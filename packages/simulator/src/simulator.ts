import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ListenerScope, SimContext } from './context.ts'
import { handleControlRequest } from './control-api.ts'
import { CREDENTIALS_PATH, handleCredentialsRequest } from './consumer-credentials.ts'
import { sendJson } from './http.ts'
import { newSecurityToken } from './ids.ts'
import { METADATA_PATH, handleMetadataRequest } from './metadata-api.ts'
import { handleTokenRequest } from './oauth-token.ts'
import { createOrgState, findUser } from './org-state.ts'
import { DATA_PATH, handleDataRequest, handleIdentity, handleRevoke, handleUserInfo, handleVersions } from './rest-api.ts'
import { LoginStatsRecorder } from './stats.ts'
import { SessionStore } from './sessions.ts'
import { SOAP_PATH, handleSoapRequest } from './soap.ts'
import type { LoginStats, Simulator, SimOrgState, SimulatorOptions } from './types.ts'

const NOT_FOUND = [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]
const IDENTITY_PATH = /^\/id\/(\w+)\/(\w+)\/?$/

async function dispatch (ctx: SimContext, sim: Simulator, scope: ListenerScope, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', scope.url)
  const path = url.pathname
  const method = req.method ?? 'GET'
  if (method === 'POST' && path === '/services/oauth2/token') return handleTokenRequest(ctx, scope, req, res, url)
  if (method === 'POST' && SOAP_PATH.test(path)) return handleSoapRequest(ctx, scope, req, res, url)
  if ((method === 'POST' || method === 'GET') && path === '/services/oauth2/revoke') return handleRevoke(ctx, req, res, url)
  const identity = method === 'GET' ? IDENTITY_PATH.exec(path) : null
  if (identity) return handleIdentity(ctx, req, res, identity[1], identity[2])
  if (scope.kind === 'login') {
    if (path.startsWith('/_sim/')) return handleControlRequest(ctx, sim, req, res, url)
  } else {
    if ((method === 'GET' || method === 'POST') && path === '/services/oauth2/userinfo') return handleUserInfo(ctx, scope, req, res)
    if (method === 'GET' && (path === '/services/data' || path === '/services/data/')) return handleVersions(res)
    if (method === 'POST' && METADATA_PATH.test(path)) return handleMetadataRequest(ctx, scope, req, res)
    if (CREDENTIALS_PATH.test(path)) return handleCredentialsRequest(ctx, scope, req, res, url)
    if (DATA_PATH.test(path)) return handleDataRequest(ctx, scope, req, res, url)
  }
  sendJson(res, 404, NOT_FOUND)
}

function urlFor (host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

function advertisedHostFor (options: SimulatorOptions, host: string): string {
  if (options.advertisedHost) return options.advertisedHost
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
}

async function listen (server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return (server.address() as AddressInfo).port
}

async function closeServer (server: Server): Promise<void> {
  if (!server.listening) return
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => resolve()))
}

/**
 * How long an idle keep-alive connection stays open. Salesforce documents no figure; a minute is
 * the usual idle timeout of the load balancers in front of such APIs (AWS ALB's default). Node's
 * own 5 s was shorter than the stall a loaded machine gives a process that is both client and
 * server (tests run the simulator in the broker's process): a request sent on a pooled connection
 * right after such a stall met the idle timer that had come due meanwhile, and was reset
 * (ECONNRESET; reproduced with a 6 s busy loop in an I/O callback).
 */
export const IDLE_CONNECTION_MS = 60_000

/**
 * Starts the login listener and one My Domain listener per org. Each listener is a plain
 * node:http server on its own port, so "which host did the client call" is as observable as
 * with real Salesforce hosts.
 */
export async function startSimulator (options: SimulatorOptions): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1'
  const advertised = advertisedHostFor(options, host)
  const now = options.now ?? Date.now
  const orgs = new Map<string, SimOrgState>()
  for (const orgOptions of options.orgs) {
    if (orgs.has(orgOptions.key)) throw new Error(`duplicate org key '${orgOptions.key}'`)
    orgs.set(orgOptions.key, createOrgState(orgOptions, now))
  }
  const ctx: SimContext = {
    orgs,
    sessions: new SessionStore(),
    stats: new LoginStatsRecorder(),
    latencyMs: options.latencyMs ?? 0,
    loginUrl: '',
    myDomainUrls: new Map(),
    now,
  }
  let down = false
  const servers: Server[] = []

  const orgOrThrow = (orgKey: string): SimOrgState => {
    const org = orgs.get(orgKey)
    if (!org) throw new Error(`unknown simulated org '${orgKey}'`)
    return org
  }

  const sim: Simulator = {
    loginUrl: '',
    myDomainUrl: (orgKey: string): string => {
      orgOrThrow(orgKey)
      return ctx.myDomainUrls.get(orgKey) as string
    },
    org: orgOrThrow,
    stats: (orgKey?: string): LoginStats => {
      if (orgKey !== undefined) orgOrThrow(orgKey)
      return ctx.stats.snapshot(orgKey)
    },
    resetStats: () => ctx.stats.reset(),
    expireSessions: (orgKey?: string) => {
      if (orgKey !== undefined) orgOrThrow(orgKey)
      ctx.sessions.expireOrg(orgKey)
    },
    resetSecurityToken: (orgKey: string, username: string): string => {
      const user = findUser(orgOrThrow(orgKey), username)
      if (!user) throw new Error(`unknown user '${username}' in simulated org '${orgKey}'`)
      user.securityToken = newSecurityToken()
      return user.securityToken
    },
    setLatency: (ms: number) => { ctx.latencyMs = ms },
    setDown: (value: boolean) => {
      down = value
      // An outage drops the connections already open too, not only new ones.
      if (down) for (const server of servers) server.closeAllConnections()
    },
    close: async () => { await Promise.all(servers.map(closeServer)) },
    // set below, once the listeners can be made
    changeMyDomain: async () => { throw new Error('not started') },
    stopMyDomainRedirect: () => {},
  }

  const makeServer = (scope: () => ListenerScope): Server => {
    const server = createServer((req, res) => {
      const current = scope()
      const moved = current.kind === 'my_domain' ? myDomainChange(current) : undefined
      if (down || moved === 'gone') {
        req.socket.destroy()
        return
      }
      if (moved !== undefined) {
        // a previous My Domain: 307 keeps the method and body (the token POST too), the client decides whether to follow
        res.writeHead(307, { location: `${moved}${req.url ?? '/'}`, 'content-length': 0 })
        res.end()
        return
      }
      dispatch(ctx, sim, current, req, res).catch(() => {
        if (res.headersSent) res.destroy()
        else sendJson(res, 500, [{ errorCode: 'UNKNOWN_EXCEPTION', message: 'An unexpected error occurred.' }])
      })
    })
    server.on('connection', socket => { if (down) socket.destroy() })
    server.keepAliveTimeout = IDLE_CONNECTION_MS
    servers.push(server)
    return server
  }

  /** One org's My Domain listener; its scope names its own URL, which stays the same when the org's My Domain changes. */
  const listenMyDomain = async (org: SimOrgState, port: number): Promise<string> => {
    const self = { url: '' }
    const server = makeServer(() => ({ kind: 'my_domain', url: self.url, org }))
    self.url = urlFor(advertised, await listen(server, port, host))
    return self.url
  }

  /**
   * "Understand Redirections for Previous My Domain Host Names" (Salesforce Help): after a My Domain
   * change Salesforce redirects the previous host names, with 301 or 307, until another My Domain
   * change is deployed or the previous My Domain is disabled or removed. Undefined: this listener is
   * the org's current My Domain; an origin: redirect there; 'gone': no longer the org's host.
   */
  const previousMyDomains = new Map<string, { url: string, redirect: boolean }>()
  const myDomainChange = (scope: ListenerScope & { kind: 'my_domain' }): string | 'gone' | undefined => {
    const current = ctx.myDomainUrls.get(scope.org.key) as string
    if (scope.url === current) return undefined
    const previous = previousMyDomains.get(scope.org.key)
    return previous?.url === scope.url && previous.redirect ? current : 'gone'
  }
  sim.changeMyDomain = async (orgKey: string, opts: { redirect?: boolean } = {}): Promise<string> => {
    const org = orgOrThrow(orgKey)
    const previous = ctx.myDomainUrls.get(orgKey) as string
    const next = await listenMyDomain(org, 0)
    previousMyDomains.set(orgKey, { url: previous, redirect: opts.redirect !== false })
    ctx.myDomainUrls.set(orgKey, next)
    return next
  }
  sim.stopMyDomainRedirect = (orgKey: string): void => {
    orgOrThrow(orgKey)
    previousMyDomains.delete(orgKey)
  }

  try {
    const loginServer = makeServer(() => ({ kind: 'login', url: ctx.loginUrl }))
    ctx.loginUrl = urlFor(advertised, await listen(loginServer, options.loginPort ?? 0, host))
    let index = 0
    for (const org of orgs.values()) {
      const port = options.orgPortBase === undefined ? 0 : options.orgPortBase + index
      ctx.myDomainUrls.set(org.key, await listenMyDomain(org, port))
      index++
    }
  } catch (err) {
    await sim.close()
    throw err
  }
  sim.loginUrl = ctx.loginUrl
  return sim
}
