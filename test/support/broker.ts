import type { Simulator } from '@sf-broker/salesforce-simulator'
import type { TestPrincipals } from './principals.ts'
import { acmeDefinition, listenTestApp, startSim, tempFileStore, type Teardown, type TestAppOptions } from '../helper.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'

export interface RunningBroker {
  sim: Simulator
  baseUrl: string
  principals: TestPrincipals
  close: () => Promise<void>
}

/** Simulator + broker listening on a free port, with the given connections to the acme org stored (client_credentials unless a flow is given). */
export async function startBroker (t: Teardown, connections: Record<string, Partial<ConnectionDefinition>> = { acme: {} }, app: Omit<TestAppOptions, 'secretStore'> = {}): Promise<RunningBroker> {
  const sim = await startSim(t)
  const store = await tempFileStore(t)
  for (const [name, { flow = 'client_credentials', ...overrides }] of Object.entries(connections)) {
    await store.write(name, acmeDefinition(sim, flow, overrides), 0)
  }
  const built = await listenTestApp(t, { ...app, secretStore: store })
  return { sim, baseUrl: built.url, principals: built.principals, close: () => built.app.close() }
}
