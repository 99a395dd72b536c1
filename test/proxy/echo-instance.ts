import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { acmeDefinition, listenTestApp, startSim, tempFileStore, type Teardown } from '../helper.ts'
import { proxyCallers } from './support.ts'
import type { LoginOutcome } from '../../src/salesforce/types.ts'

export interface Seen { method: string, url: string, headers: IncomingHttpHeaders, bodyBytes: number }

/**
 * A hostile or broken "instance" for the proxy's security tests: it records every request it gets
 * and answers with what it was sent (the session included, in several encodings), with cookies and
 * server headers the proxy must not pass on.
 */
export async function echoInstance (t: Teardown): Promise<{ url: string, seen: Seen[], login: () => Promise<LoginOutcome> }> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    let bodyBytes = 0
    req.on('data', (c: Buffer) => { bodyBytes += c.length })
    req.on('error', () => {})
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes })
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
      const body = JSON.stringify({
        youSent: req.headers,
        raw: token,
        base64: Buffer.from(token).toString('base64'),
        form: encodeURIComponent(token),
        bodyBytes,
      })
      res.writeHead(req.url?.includes('/unauthorised') ? 401 : 200, {
        'content-type': 'application/json;charset=UTF-8',
        'set-cookie': 'sid=' + token + '; Path=/',
        'x-powered-by': 'hostile',
        'sforce-limit-info': 'api-usage=900/1000',
        server: 'hostile/1.0',
        // headers the proxy passes on, holding the session as a debugging Apex endpoint could
        // (RestContext.response.addHeader), and a caching policy that would undo the broker's no-store
        'sforce-debug-session': token,
        warning: `199 - "session ${token}"`,
        etag: `"${Buffer.from(token).toString('base64')}"`,
        'cache-control': 'public, max-age=86400',
        expires: 'Thu, 01 Dec 2033 16:00:00 GMT',
      })
      res.end(body)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let n = 0
  const login = async (): Promise<LoginOutcome> => ({
    ok: true,
    session: { accessToken: `00Decho!AQ.session-${++n}-${'x'.repeat(40)}`, instanceUrl: url, userId: '005000000000001AAA', orgId: '00D000000000001AAA', issuedAt: Date.now(), flow: 'client_credentials' },
  })
  return { url, seen, login }
}

/** The broker in front of an instance that echoes what it gets (the login core answers with a session on it). */
export async function echoRig (t: Teardown, env: Record<string, string> = {}) {
  const echo = await echoInstance(t)
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim), 0)
  const callers = proxyCallers()
  const { url } = await listenTestApp(t, { secretStore: store, principals: callers, env, overrides: { login: echo.login } })
  return { echo, url, callers, prefix: '/v1/connections/acme/salesforce', base: `${url}/v1/connections/acme/salesforce` }
}
