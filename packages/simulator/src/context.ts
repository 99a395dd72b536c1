import type { LoginStatsRecorder } from './stats.ts'
import type { SessionStore } from './sessions.ts'
import type { SimOrgState } from './types.ts'

/** Everything the request handlers share: the orgs, the issued sessions, the counters and the URLs. */
export interface SimContext {
  orgs: Map<string, SimOrgState>
  sessions: SessionStore
  stats: LoginStatsRecorder
  latencyMs: number
  loginUrl: string
  myDomainUrls: Map<string, string>
  /** the simulator's time (SimulatorOptions.now), epoch ms */
  now: () => number
}

/**
 * Which host a request reached: the generic login host (login.salesforce.com) or one org's
 * My Domain (acme.my.salesforce.com), which answers only for its own org.
 */
export type ListenerScope =
  | { kind: 'login', url: string }
  | { kind: 'my_domain', url: string, org: SimOrgState }

/** The orgs a listener can log users into. */
export function orgsServedBy (ctx: SimContext, scope: ListenerScope): SimOrgState[] {
  return scope.kind === 'my_domain' ? [scope.org] : [...ctx.orgs.values()]
}
