/**
 * Every logical name the broker gives its shared state: leases, documents, rolling windows,
 * quotas, streams, and the once-keys of notifications. No other file builds one (a test scans src/ for
 * the prefixes below), so what the fleet keeps, who writes it and how long it lives is read here.
 *
 * A name is `<kind>:<owner>`; redis-keys.ts turns it into a Redis key with the owner as hash tag
 * (`login-guard:user:a@b.c` → `<prefix>{user:a@b.c}:doc:login-guard`). A name is shared by every
 * replica and every release of a rolling upgrade: renaming one makes the new release forget what
 * the old one kept under the old name.
 *
 * Renamed on purpose, to say which hold is which: the hour-long hold after Salesforce answered
 * LOGIN_RATE_EXCEEDED was `login-hold:`, the per-connection pause after a transient failure was
 * `holdoff:`. During a rolling upgrade each release sees only the holds it wrote under its own
 * name, which is harmless: a rate hold missed lets at most one more login of the user (per
 * release) reach Salesforce, which answers LOGIN_RATE_EXCEEDED again — an answer, so never an
 * unknown outcome, and retryable, not a credential failure (salesforce/classify.ts) — and the gate
 * neither counts it toward the user's lockout nor opens a circuit on it: it sets the hold again
 * (sessions/login-gate.ts). A transient pause missed (1.5 s at most) lets one login go that much sooner.
 */
import { createHash } from 'node:crypto'

// --- a connection's logins (src/sessions/login-gate.ts reads them with the login's state) ----------

/** Document: the pause after a transient login failure (hold-off.ts); kept 15 s, ends at its `until`. */
export const transientHoldOffDoc = (connection: string): string => `transient-holdoff:${connection}`

/** Document: a session of the connection was confirmed dead (session service); an hour. */
export const revokedDoc = (connection: string): string => `revoked:${connection}`

/** Lease: the relogin floor after a revocation, one login per interval (session service); never released, lives the interval. */
export const reloginFloorLease = (connection: string): string => `relogin-floor:${connection}`

/** Document: which connection and secret version last logged in to the org (session service writes, the gate reads); no expiry. */
export const orgSessionDoc = (orgId: string): string => `org-session:${orgId}`

// --- a Salesforce user's logins: login identity or `sfuser:<org>/<user>` (login-gate.ts) -------

/**
 * Lease: one login at a time per login identity (the gate's funnel: callers, checks, admins); renewed
 * while the login runs. Releases before the funnel also took a per-connection `login:<connection>`
 * lease first, and this one inside it: during a rolling upgrade both releases still meet here.
 */
export const loginUserLease = (identity: string): string => `login-user:${identity}`

/** Document: the user's failure guard, failed logins counted toward lockout (the gate); no expiry. */
export const loginGuardDoc = (identity: string): string => `login-guard:${identity}`

/**
 * Document: a password login of the user went out under the user's lease (the gate; `SentLogin` in
 * sessions/login-guard.ts), taken back with the lease once its answer is accounted for. Found by
 * another holder about to send one, it is the login of a replica that died before it could account
 * for it: counted as failed. No expiry: Salesforce's count has none.
 */
export const loginInFlightDoc = (identity: string): string => `login-in-flight:${identity}`

/** Document: what Salesforce last said of the user's failed logins and lock (the gate); no expiry. */
export const loginGuardTruthDoc = (identity: string): string => `login-guard-truth:${identity}`

/** Document: when Salesforce was last asked for that count (the gate); a minute. */
export const loginGuardAskedDoc = (identity: string): string => `login-guard-asked:${identity}`

/** Document: the Salesforce user a login identity turned out to be, `sfuser:<org>/<user>` (the gate, after a success); no expiry. */
export const salesforceUserDoc = (identity: string): string => `salesforce-user:${identity}`

/** Window: logins spent by the budget owner (user once known, else identity) in the rolling hour (the gate). */
export const loginBudgetWindow = (owner: string): string => `logins:${owner}`

/** Document: the hold after Salesforce answered LOGIN_RATE_EXCEEDED (the gate); an hour. */
export const loginRateHoldDoc = (owner: string): string => `login-rate-hold:${owner}`

// --- a caller's claim that a token was rejected (rejection-check.ts) --------------------------

/** Document: Salesforce's verdict on a token, by hash, never the token (rejection check); 5 s alive, until its end dead. */
export const tokenVerdictDoc = (accessToken: string): string =>
  `token-verdict:${createHash('sha256').update(accessToken).digest('hex').slice(0, 32)}`

/** Lease: one verification of a token at a time, fleet-wide (rejection check); renewed while Salesforce is asked. */
export const tokenVerifyLease = (accessToken: string): string => `verify:${tokenVerdictDoc(accessToken)}`

/** Window: a caller's claims that needed a check with Salesforce, per rolling minute (rejection check). */
export const forcedRefreshWindow = (caller: string): string => `forced-refresh:${caller}`

// --- health (src/health/, src/routes/salesforce-health.ts, src/proxy/) --------------------------

/** Document: the connection's last health result (connection validator); a week. */
export const healthDoc = (connection: string): string => `health:${connection}`

/**
 * Lease: one scheduled validation per connection and round, fleet-wide (scheduler); never
 * released, lives one interval. The round (its start, epoch ms) is in the kind, so each round's
 * lease is another name whatever the clock does: `validate-1764870000000:acme`.
 */
export const validateLease = (connection: string, roundStart: number): string => `validate-${roundStart}:${connection}`

/** Lease: the cool-down of a forced health check (POST …/check route); never released, 10 s. */
export const healthCheckLease = (connection: string): string => `health-check:${connection}`

/** Document: the org and instance that answered the connection's last login (health's drift view); 400 days. */
export const orgIdentityDoc = (connection: string): string => `org-identity:${connection}`

/** Document: the API usage the last proxied answer reported (proxy accounting writes, health reads); a day. */
export const apiUsageDoc = (connection: string): string => `proxy-api-usage:${connection}`

// --- proxy mode (src/proxy/) ---------------------------------------------------------------------

/**
 * Quota: a caller's proxied calls in one fixed window of its cap (proxy accounting). The period and
 * the window's start (epoch ms, by the broker's clock) are in the kind, so each window is another
 * name: `proxy-calls-minute-1764870000000:billing`; lives to the window's end plus a minute.
 */
export const proxyCallsQuota = (caller: string, period: 'minute' | 'day', windowStart: number): string =>
  `proxy-calls-${period}-${windowStart}:${caller}`

// --- admin workflows (src/admin/) ---------------------------------------------------------------

/** Document: a consumer-key rotation in progress (consumer rotation); 30 days, cleared when it ends. */
export const consumerRotationDoc = (connection: string): string => `consumer-rotation:${connection}`

/** Document: the connection's consumer-key rotation policy (consumer rotation); 400 days, renewed on each write. */
export const consumerRotationPolicyDoc = (connection: string): string => `consumer-rotation-policy:${connection}`

/** Document: the id of the connection's pending migration (migration marks); until the migration ends. */
export const migrationIdDoc = (connection: string): string => `migration-id:${connection}`

/** Document: the migration id and pending version a validation proved (migration marks); a day. */
export const migrationValidatedDoc = (connection: string): string => `migration-validated:${connection}`

/** Lease: the claim of one migration's end, a check-and-set never released on success (migration marks); a week. */
export const migrationEndLease = (connection: string, id: string): string => `migration-end:${connection}:${id}`

// --- notifications and audit (src/notifications/, src/admin/audit-log.ts) ------------------------

/** Lease: an event with a once-key is raised by one replica only (notifier); never released, lives the key's ttl. */
export const notifyOnceLease = (onceKey: string): string => `notify-once:${onceKey}`

/*
 * Once-keys (inside `notify-once:`). Each is also hashed into the event's id (notifications/events.ts),
 * which receivers use to drop duplicates: changing one changes the ids receivers see.
 */

/** Once-key (and so the event's id): the login budget's reserve reached in the clock hour starting at `hourStart` (login events). */
export const budgetReserveOnce = (connection: string, hourStart: number): string => `budget-reserve-${hourStart}:${connection}`

/** Once-key (and so the event's id): the failure guard tripped in the run of failures that began at `since` (login events). */
export const guardTrippedOnce = (connection: string, since: number): string => `guard-tripped-${since}:${connection}`

/** Once-key: an admin action worth telling (admin events); a day. */
export const auditOnce = (auditId: string): string => `audit:${auditId}`

/** Once-key: a connection's health status changed after the check of `previousCheckedAt` (health events); a day. */
export const healthStatusOnce = (connection: string, previousCheckedAt: number, status: string): string =>
  `status:${connection}:${previousCheckedAt}:${status}`

/** Once-key: a flow's sunset countdown crossed a threshold (health events); 400 days. */
export const sunsetOnce = (connection: string, flow: string, date: string, thresholdDays: number): string =>
  `sunset:${connection}:${flow}:${date}:${thresholdDays}`

/** Once-key: a certificate's expiry countdown crossed a threshold (health events); 400 days. */
export const certificateOnce = (connection: string, fingerprint256: string, thresholdDays: number): string =>
  `certificate:${connection}:${fingerprint256}:${thresholdDays}`

/** Stream: raised events, newest kept (notifier; the status page reads them); capped by count. */
export const recentNotificationsStream = (): string => 'notifications'

/** Stream: events no webhook receiver took after every attempt (dead letters); capped by count. */
export const deadLettersStream = (): string => 'notification-dead-letters'

/**
 * Stream: the audit log (audit log): `admin` actions stay in `audit`, where every event went
 * before the split; sessions handed out go to `audit-handouts`. Capped by count and age.
 */
export const auditStream = (stream: 'admin' | 'handouts'): string => stream === 'admin' ? 'audit' : 'audit-handouts'
