import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { acmeDefinition, bearer, listenTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import type { LoginOutcome } from '../../src/salesforce/types.ts'
import { proxyCallers, type ProxyCallers } from '../proxy/support.ts'

export interface Call { method: string, url: string, token: string, body: Buffer, headers: IncomingMessage['headers'] }
export interface Ctx { token: string, live: boolean, body: Buffer, call: Call }
export type Script = (req: IncomingMessage, res: ServerResponse, ctx: Ctx) => void

/**
 * An instance whose answers the test scripts. Sessions come from its login, numbered; the newest
 * is live, older ones dead (its /limits answers them 401 INVALID_SESSION_ID, as the broker's check
 * of a claimed-dead session expects). Every call but the broker's /limits check is recorded.
 */
export async function scriptedRig (t: Teardown, script: Script, opts: { env?: Record<string, string>, callers?: ProxyCallers } = {}) {
  const calls: Call[] = []
  let logins = 0
  let live = ''
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    req.on('end', () => {
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
      const body = Buffer.concat(chunks)
      const isLive = token === live
      if (req.url === '/services/data/v62.0/limits') {
        // the broker's own session check (not recorded: a test of this rig never proxies /limits)
        if (!isLive) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]')
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"DailyApiRequests":{"Max":15000,"Remaining":14999}}')
        return
      }
      const call: Call = { method: req.method ?? '', url: req.url ?? '', token, body, headers: req.headers }
      calls.push(call)
      script(req, res, { token, live: isLive, body, call })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const instanceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const login = async (): Promise<LoginOutcome> => {
    logins++
    live = `00Dscripted!AQ.session-${logins}-${'z'.repeat(40)}`
    return { ok: true, session: { accessToken: live, instanceUrl, userId: '005000000000001AAA', orgId: '00D000000000001AAA', issuedAt: Date.now(), flow: 'client_credentials' } }
  }
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = opts.callers ?? proxyCallers()
  const { url, app } = await listenTestApp(t, { secretStore: store, principals: callers, env: opts.env ?? {}, overrides: { login } })
  return {
    url,
    app,
    callers,
    calls,
    logins: () => logins,
    liveToken: () => live,
    expire: () => { live = 'none' },
    base: `${url}/v1/connections/acme/salesforce`,
    full: bearer(callers.fullKey),
    limited: bearer(callers.limitedKey),
  }
}

/** A raw answer's bytes: no client decoding anything. */
export async function rawBytes (url: string, init: { method?: string, headers?: Record<string, string>, body?: string | Buffer } = {}): Promise<{ status: number, headers: IncomingMessage['headers'], body: Buffer }> {
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}
