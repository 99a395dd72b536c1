import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import type { SalesforceSession, SessionCheckOutcome } from '../salesforce/types.ts'
import { underLease } from './lease.ts'
import type { CachedSession, Documents, Leases, Windows } from '../shared-state/shared-state.ts'
import { forcedRefreshWindow, tokenVerdictDoc, tokenVerifyLease } from '../shared-state/state-names.ts'

/** Asks Salesforce whether a session still works (GET /limits, src/salesforce/session-check.ts). */
export type SessionChecker = (session: SalesforceSession, apiVersion: string) => Promise<SessionCheckOutcome>

export interface RejectionCheckOptions {
  state: Documents & Windows & Leases
  checkSession: SessionChecker
  /** claims of a dead token one caller may make per minute (fleet-wide) */
  perCallerPerMinute: number
  /** how long a caller waits for another process's verification of the same token */
  waitTimeoutMs: number
  leaseTtlMs: number
  logger: Logger
}

type Verdict = 'dead' | 'alive'

/**
 * An "alive" answer is trusted this long: it absorbs a burst of false claims (one check per token
 * per 5 s fleet-wide, whatever the number of callers and replicas), and a session that really dies
 * just after is healed on a claim at most 5 s later.
 */
export const ALIVE_TRUSTED_MS = 5_000
const MINUTE_MS = 60_000

/**
 * A caller's claim that Salesforce rejected the cached session is checked before a login is spent
 * on it: one cheap REST call with the token (fleet-wide, once per token per 5 s; everyone else
 * reads the verdict). Only Salesforce's INVALID_SESSION_ID makes the token dead; anything else
 * (a limit, a network error) says nothing about the session, and a login would not help either.
 */
export class RejectionCheck {
  private readonly opts: RejectionCheckOptions

  constructor (opts: RejectionCheckOptions) {
    this.opts = opts
  }

  /** `onConfirmedDead` runs once fleet-wide, by whoever asked Salesforce, when the answer is dead. */
  async isDead (connection: string, entry: CachedSession, caller: string, onConfirmedDead?: () => Promise<void>): Promise<boolean> {
    const key = tokenVerdictDoc(entry.session.accessToken)
    const known = await this.opts.state.getJson<Verdict>(key)
    if (known) return known === 'dead'
    const result = await underLease<Verdict>({
      state: this.opts.state,
      name: tokenVerifyLease(entry.session.accessToken),
      ttlMs: this.opts.leaseTtlMs,
      deadline: Date.now() + this.opts.waitTimeoutMs,
      settled: async () => (await this.opts.state.getJson<Verdict>(key)) ?? undefined,
      logger: this.opts.logger,
    }, async () => {
      // only the claims that cost a call to Salesforce count: the ones a verdict answers are free
      const claims = await this.opts.state.addToWindow(forcedRefreshWindow(caller), MINUTE_MS)
      if (claims > this.opts.perCallerPerMinute) {
        throw new DomainError('rate_limited', `more than ${this.opts.perCallerPerMinute} rejected-token claims from this caller needed a check in the last minute`, { connection, retryable: true }, 60)
      }
      const outcome = await this.opts.checkSession(entry.session, entry.apiVersion).catch((): SessionCheckOutcome => ({ ok: true }))
      const verdict: Verdict = !outcome.ok && outcome.failure.classification === 'session_invalid' ? 'dead' : 'alive'
      const ttl = verdict === 'dead' ? Math.max(1_000, entry.realEnd - Date.now()) : ALIVE_TRUSTED_MS
      // the session leaves every cache before anyone reads the verdict: it is never handed out again
      if (verdict === 'dead') await onConfirmedDead?.()
      await this.opts.state.putJson(key, verdict, ttl)
      this.opts.logger.info({ connection, caller, verdict }, 'rejected-token claim verified with Salesforce')
      return verdict
    })
    return result.kind !== 'timeout' && result.value === 'dead'
  }
}
