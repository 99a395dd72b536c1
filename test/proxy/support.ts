import { generateApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals } from '../../src/auth/principals.ts'
import type { TestPrincipals } from '../support/principals.ts'
import { acmeDefinition, buildTestApp, listenTestApp, startSim, tempFileStore, type Teardown, type TestAppOptions } from '../helper.ts'
import type { Simulator } from '../../packages/simulator/src/index.ts'

/** The callers of the proxy tests, with their API keys. */
export interface ProxyCallers extends TestPrincipals {
  /** proxy-only, limited by rules: query, sobjects Account read/create, composite */
  limitedKey: string
  /** granted acme without rules, sessions allowed */
  fullKey: string
}

export const LIMITED_RULES = [
  { api: 'query' },
  { api: 'sobjects', objects: ['Account'], methods: ['GET', 'POST', 'PATCH'] },
  { api: 'composite', methods: ['POST'] },
  { api: 'limits' },
  { api: 'apexrest', paths: ['/echo/**'], methods: ['GET', 'POST'] },
]

export function proxyCallers (extra: Record<string, unknown> = {}): ProxyCallers {
  const limited = generateApiKey('limited')
  const full = generateApiKey('full')
  const reporting = generateApiKey('reporting')
  const billing = generateApiKey('billing')
  const admin = generateApiKey('ops')
  const doc = {
    principals: [
      { id: 'limited', kind: 'service', apiKeySha256: [limited.sha256], sessions: false, connections: [{ connection: 'acme', rules: LIMITED_RULES }], ...extra },
      { id: 'full', kind: 'service', apiKeySha256: [full.sha256], connections: ['acme'] },
      { id: 'billing', kind: 'service', apiKeySha256: [billing.sha256], connections: ['acme'] },
      { id: 'reporting', kind: 'service', apiKeySha256: [reporting.sha256], connections: [] },
      { id: 'ops', kind: 'admin', apiKeySha256: [admin.sha256] },
    ],
  }
  return {
    directory: parsePrincipals(doc),
    json: JSON.stringify(doc),
    billingKey: billing.key,
    reportingKey: reporting.key,
    adminKey: admin.key,
    limitedKey: limited.key,
    fullKey: full.key,
  }
}

/** A simulator, a store with connection acme on it, and the broker listening (proxy tests talk real HTTP). */
export async function proxyRig (t: Teardown, opts: TestAppOptions & { callers?: ProxyCallers } = {}): Promise<{ sim: Simulator, url: string, callers: ProxyCallers, base: string }> {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  await store.write('acme', acmeDefinition(sim, 'client_credentials'), 0)
  const callers = opts.callers ?? proxyCallers()
  const { url } = await listenTestApp(t, { secretStore: store, principals: callers, ...opts })
  return { sim, url, callers, base: `${url}/v1/connections/acme/salesforce` }
}

export { buildTestApp }
