import type { CachedSession, CircuitState, SessionCache, CircuitStore, Documents, Windows, StateRead } from './shared-state.ts'

/** readMany for a state whose reads cost no round trip (process memory): each read on its own. */
export async function readOneByOne (state: SessionCache & CircuitStore & Documents & Windows, reads: readonly StateRead[]): Promise<Array<CachedSession | CircuitState | number | unknown>> {
  return Promise.all(reads.map((read) => {
    switch (read.kind) {
      case 'session': return state.getSession(read.connection, read.secretVersion)
      case 'circuit': return state.getCircuit(read.connection)
      case 'doc': return state.getJson(read.key)
      default: return state.countWindow(read.key, read.windowMs)
    }
  }))
}
