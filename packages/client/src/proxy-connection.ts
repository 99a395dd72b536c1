import type { Connection, Schema } from 'jsforce'
import type { RefreshFn } from './jsforce-refresh.ts'
import { readCredential, type Credentials } from './transport.ts'

export interface ProxyConnectionOptions {
  /** the REST API version jsforce asks for (default: jsforce's own default); set it to the connection's */
  version?: string
}

/**
 * A jsforce Connection whose calls go through the broker's proxy: its instance URL is the proxy
 * prefix of the connection and its "access token" the caller's own broker credential, so the
 * Salesforce session never reaches this process and existing jsforce code runs unchanged.
 *
 * jsforce builds most URLs as instanceUrl + path, but Bulk API 2.0 resolves its paths with
 * `new URL(path, instanceUrl)`, which drops the prefix (an absolute /services/... path) or its last
 * segment (a relative services/... one): those come back under the prefix here, before they leave.
 */
export async function proxyConnection (baseUrl: string, name: string, credential: string, credentials: Credentials, opts: ProxyConnectionOptions = {}): Promise<Connection> {
  const { Connection } = await import('jsforce')
  const broker = baseUrl.replace(/\/+$/, '')
  const origin = new URL(broker).origin
  const connectionPath = `${broker}/v1/connections/${encodeURIComponent(name)}`
  const prefix = `${connectionPath}/salesforce`
  const conn = new Connection<Schema>({
    instanceUrl: prefix,
    accessToken: credential,
    ...(opts.version ? { version: opts.version } : {}),
    ...(typeof credentials === 'function' ? { refreshFn: rereadCredential(credentials, name) } : {}),
  })
  const transport = conn._transport
  const send = transport.httpRequest.bind(transport)
  transport.httpRequest = (req, options) => {
    if (req.url.startsWith(`${origin}/services/`)) req.url = prefix + req.url.slice(origin.length)
    else if (req.url.startsWith(`${connectionPath}/services/`)) req.url = prefix + req.url.slice(connectionPath.length)
    return send(req, options)
  }
  return conn
}

/**
 * A credential that expires (a projected service-account token): the broker answers 401 once it
 * has, jsforce asks for a new "session", and this hands it the credential read again. The same
 * credential twice means the 401 was not about it (or it is not renewed yet): an error, not a loop.
 */
function rereadCredential (credentials: () => string | Promise<string>, name: string): RefreshFn {
  return (conn, callback) => {
    readCredential(credentials, name).then((fresh) => {
      if (fresh === conn.accessToken) callback(new Error('the broker refused the credential, and reading it again gave the same one'))
      else callback(null, fresh)
    }, (err: Error) => callback(err))
  }
}
