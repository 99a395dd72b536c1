import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { VaultSecretStore } from '../../src/secrets/vault-store.ts'
import { startVaultStandIn } from '../support/vault-standin.ts'
import { captureLogs } from '../support/log-capture.ts'
import { until } from '../support/redis-topologies.ts'
import { ManualClock } from '../support/manual-clock.ts'
import { acme } from './store-contract.ts'

/*
 * node-vault 0.12 declares auth/token/renew-self with `tokenSource: true` (its src/commands.js):
 * whenever a renewal answers, node-vault itself sets client.token to the token that answer names,
 * the one that was renewed. A renewal of token 1 still on its way while a request's re-login
 * installed token 2 put token 1 back when it landed: the broker then worked with the older token
 * (here one Vault had revoked meanwhile), was refused, and spent another login (an AppRole secret
 * ID's use among them).
 */

interface Proxy { url: string, tokensSent: string[], loginTokens: string[], heldRenewal: Promise<void>, holdRenewals (): void, release (): void, close (): Promise<void> }

/** A pass-through in front of the stand-in that records tokens and can hold renew-self answers (a slow network). */
async function proxyTo (target: string): Promise<Proxy> {
  const tokensSent: string[] = []
  const loginTokens: string[] = []
  let holding = false
  let release: () => void = () => {}
  let released = Promise.resolve()
  let heldResolve: () => void = () => {}
  const heldRenewal = new Promise<void>(resolve => { heldResolve = resolve })
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      (async () => {
        const token = req.headers['x-vault-token']
        if (typeof token === 'string') tokensSent.push(token)
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = v
        const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined
        const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, body })
        const text = await answer.text()
        if (req.url === '/v1/auth/approle/login' && answer.status === 200) loginTokens.push((JSON.parse(text) as { auth: { client_token: string } }).auth.client_token)
        if (req.url === '/v1/auth/token/renew-self' && holding) {
          heldResolve()
          await released
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' })
        res.end(text)
      })().catch(() => { res.destroy() })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    tokensSent,
    loginTokens,
    heldRenewal,
    holdRenewals () {
      holding = true
      released = new Promise<void>(resolve => { release = resolve })
    },
    release () { holding = false; release() },
    close: () => new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

t.test('a renewal answer that lands after a re-login does not put the older token back', async t => {
  const clock = new ManualClock()
  const vault = await startVaultStandIn({ clock })
  t.teardown(() => vault.close())
  vault.setPolicy('broker', [{ path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }])
  const { roleId, secretId } = vault.enableAppRole('broker', { policies: ['broker'], tokenTtlSeconds: 60 })
  const proxy = await proxyTo(vault.url)
  t.teardown(() => proxy.close())
  const logs = captureLogs('debug')
  const store = new VaultSecretStore({ endpoint: proxy.url, auth: { method: 'approle', roleId, secretId }, requestTimeoutMs: 5000, logger: logs.logger, clock })
  t.teardown(() => store.close())
  await store.start()
  await store.write('acme', acme, 0)
  const [token1] = proxy.loginTokens

  // the renewal at 2/3 of the TTL: Vault renews token 1, its answer is slow to come back
  proxy.holdRenewals()
  await clock.advance(40_001)
  await proxy.heldRenewal
  // meanwhile Vault revokes token 1 (an operator's `vault token revoke`): a request is refused, the broker logs in again
  vault.revokeToken(token1)
  t.equal((await store.read('acme'))?.version, 1, 'served after a re-login')
  t.equal(proxy.loginTokens.length, 2)
  const token2 = proxy.loginTokens[1]

  // the renewal answer for token 1 lands now
  proxy.release()
  await until('the renewal answer handled', () => logs.records().some(r => /renew/.test(String(r.msg))), 10_000)

  const before = vault.requestLog.length
  t.equal((await store.read('acme'))?.version, 1)
  t.equal(proxy.tokensSent.at(-1), token2, 'the next request carries the newest token, not the renewed older one')
  const after = vault.requestLog.slice(before).map(r => `${r.method} ${r.path} ${r.status}`)
  t.same(after, ['GET /v1/secret/data/sf-broker/acme 200'], 'no 403 and no further login')
})
