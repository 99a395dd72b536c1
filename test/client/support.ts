import type { Simulator } from '../../packages/simulator/src/index.ts'
import type { TestPrincipals } from '../support/principals.ts'
import { acmeDefinition, listenTestApp, startSim, tempFileStore, type Teardown, type TestAppOptions } from '../helper.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'

export interface BrokerCall {
  url: string
  authorization: string | null
  body: Record<string, unknown>
}

/** A real fetch that remembers what the client sent, so a test can count requests that reached the broker. */
export function recordingFetch (): { fetch: typeof fetch, calls: BrokerCall[] } {
  const calls: BrokerCall[] = []
  const recording: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers)
    calls.push({
      url: String(input),
      authorization: headers.get('authorization'),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : {},
    })
    return fetch(input, init)
  }
  return { fetch: recording, calls }
}

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
