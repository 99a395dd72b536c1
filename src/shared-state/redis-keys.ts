/**
 * Names of the broker's Redis keys: the physical layout. The logical names of leases, windows,
 * documents and streams (`login:acme`, `login-guard:user:a@b.c`, …) are made in state-names.ts
 * only; this file places them. Everything of one owner — a connection, or a Salesforce login
 * identity for the per-user guard, budget and lease — carries the owner as its hash tag (`{…}`),
 * so it all lives in one Redis Cluster slot: a MULTI or a script never spans two slots, and a
 * failover moves an owner's state as a whole.
 *
 *   <prefix>{<connection>}:session:v<version>   sealed session of one secret version
 *   <prefix>{<connection>}:session-index        the connection's session keys (purge)
 *   <prefix>{<connection>}:circuit              the connection's circuit
 *   <prefix>{<connection>}:issued               sealed sessions obtained for it, until Salesforce ends them
 *   <prefix>{<owner>}:<space>:<kind>            a named lease, window, quota or document `<kind>:<owner>`,
 *                                               e.g. login:acme -> {acme}:lease:login,
 *                                               login-guard:user:a@b.c -> {user:a@b.c}:doc:login-guard
 *   <prefix>events                              the pub/sub channel
 *   <prefix>replicas                            the roll of live replicas (replica-roll.ts)
 *   <prefix>audit, <prefix>audit-handouts       the audit streams: admin actions, sessions handed out
 */
export class RedisKeys {
  private readonly prefix: string

  constructor (prefix: string) {
    this.prefix = prefix
  }

  session (connection: string, version: number): string {
    return `${this.prefix}{${connection}}:session:v${version}`
  }

  sessionIndex (connection: string): string {
    return `${this.prefix}{${connection}}:session-index`
  }

  /** sessions obtained for the connection that may still be alive at Salesforce (the kill switch's list) */
  issued (connection: string): string {
    return `${this.prefix}{${connection}}:issued`
  }

  circuit (connection: string): string {
    return `${this.prefix}{${connection}}:circuit`
  }

  /**
   * Where releases before the one-slot layout kept a connection's circuit: still read (and moved)
   * so a rolling upgrade does not forget an open circuit. Remove once no such release runs.
   */
  legacyCircuit (connection: string): string {
    return `${this.prefix}circuit:{${connection}}`
  }

  lease (name: string): string {
    return this.named('lease', name)
  }

  window (name: string): string {
    return this.named('window', name)
  }

  /** a fixed-window counter (Windows.takeQuotas) */
  quota (name: string): string {
    return this.named('quota', name)
  }

  doc (name: string): string {
    return this.named('doc', name)
  }

  /** a capped stream, e.g. `audit` or `audit-handouts` */
  stream (name: string): string {
    return `${this.prefix}${name}`
  }

  get events (): string {
    return `${this.prefix}events`
  }

  get replicas (): string {
    return `${this.prefix}replicas`
  }

  /** `<kind>:<owner>`: the owner (everything after the first colon) is the hash tag. */
  private named (space: string, name: string): string {
    const colon = name.indexOf(':')
    if (colon < 0) return `${this.prefix}{${name}}:${space}`
    return `${this.prefix}{${name.slice(colon + 1)}}:${space}:${name.slice(0, colon)}`
  }
}
