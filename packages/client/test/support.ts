/** The client's tests run against a real broker, built by the root test kit. */
export { startBroker, type RunningBroker } from '../../../test/support/broker.ts'

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
