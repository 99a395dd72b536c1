import type { ConnectionOptions } from 'node:tls'
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici'

/**
 * The egress proxy of the broker's own outbound calls: Salesforce (logins, limits, userinfo,
 * revoke), the caller JWKS and webhook deliveries. Proxying is a property of the process's network, like the
 * environment variables that configure it, so it is set once per process by the broker
 * (src/broker.ts) and undone when that broker closes.
 *
 * undici's EnvHttpProxyAgent picks the proxy per request: HTTPS_PROXY for https URLs, HTTP_PROXY
 * for http ones, none for a host NO_PROXY matches (host, .domain, host:port, *), and tunnels with
 * CONNECT, so TLS stays end to end and the proxy never sees a credential. Vault is reached by
 * node-vault through axios, which reads the same variables itself (src/secrets/vault-store.ts).
 */
export interface EgressProxy {
  httpProxy?: string
  httpsProxy?: string
  noProxy?: string
}

let dispatcher: Dispatcher | undefined

/**
 * A dispatcher of its own for a client that needs TLS settings (Vault's CA, a client certificate)
 * or pool settings (the Salesforce proxy's connections and timeouts) and honours the same proxy:
 * through a tunnel, `tls` applies to the origin inside it. The caller closes it.
 */
export function egressDispatcher (proxy: EgressProxy, tls: ConnectionOptions = {}, pool: Agent.Options = {}): Dispatcher {
  if (!proxy.httpProxy && !proxy.httpsProxy) return new Agent({ ...pool, connect: tls })
  // connect: TLS of a direct (NO_PROXY) connection; requestTls: TLS to the origin inside a tunnel
  // (EnvHttpProxyAgent hands its options to both ProxyAgents and its direct Agent; its type omits requestTls)
  return new EnvHttpProxyAgent({ ...pool, httpProxy: proxy.httpProxy ?? '', httpsProxy: proxy.httpsProxy ?? '', noProxy: proxy.noProxy ?? '', connect: tls, requestTls: tls } as EnvHttpProxyAgent.Options)
}

/** Routes egressFetch through the proxy; returns what restores direct connections. */
export function useEgressProxy (proxy: EgressProxy): () => Promise<void> {
  if (!proxy.httpProxy && !proxy.httpsProxy) return async () => {}
  const agent = new EnvHttpProxyAgent({ httpProxy: proxy.httpProxy ?? '', httpsProxy: proxy.httpsProxy ?? '', noProxy: proxy.noProxy ?? '' })
  dispatcher = agent
  return async () => {
    if (dispatcher === agent) dispatcher = undefined
    await agent.close()
  }
}

/** fetch, through the egress proxy when one is configured. */
export function egressFetch (input: string | URL, init: RequestInit = {}): Promise<Response> {
  return fetch(input, dispatcher ? { ...init, dispatcher } as RequestInit : init)
}
