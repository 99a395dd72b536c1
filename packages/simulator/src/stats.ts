import type { LoginCounts, LoginStats } from './types.ts'

function emptyStats (): LoginStats {
  return { attempts: 0, failures: 0, successes: 0, byUser: {} }
}

function add (into: LoginCounts, from: LoginCounts): void {
  into.attempts += from.attempts
  into.failures += from.failures
  into.successes += from.successes
}

/**
 * Login attempts as the simulator saw them, per org and per username. An attempt that names no
 * known org (unknown client id or username on the login host) is kept apart and only shows in
 * the all-orgs total.
 */
export class LoginStatsRecorder {
  #byOrg = new Map<string, LoginStats>()
  #unattributed = emptyStats()

  record (orgKey: string | undefined, username: string | undefined, ok: boolean): void {
    let stats = this.#unattributed
    if (orgKey !== undefined) {
      stats = this.#byOrg.get(orgKey) ?? emptyStats()
      this.#byOrg.set(orgKey, stats)
    }
    const one = { attempts: 1, failures: ok ? 0 : 1, successes: ok ? 1 : 0 }
    add(stats, one)
    if (username) {
      const user = stats.byUser[username] ?? { attempts: 0, failures: 0, successes: 0 }
      add(user, one)
      stats.byUser[username] = user
    }
  }

  snapshot (orgKey?: string): LoginStats {
    const sources = orgKey === undefined ? [...this.#byOrg.values(), this.#unattributed] : [this.#byOrg.get(orgKey) ?? emptyStats()]
    const total = emptyStats()
    for (const stats of sources) {
      add(total, stats)
      for (const [username, counts] of Object.entries(stats.byUser)) {
        const user = total.byUser[username] ?? { attempts: 0, failures: 0, successes: 0 }
        add(user, counts)
        total.byUser[username] = user
      }
    }
    return total
  }

  reset (): void {
    this.#byOrg = new Map()
    this.#unattributed = emptyStats()
  }
}
