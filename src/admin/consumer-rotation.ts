import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import {
  deleteStaged, listConsumers, listStaged, promoteStaged, stageCredentials, type CredentialsCall, type NotPermitted,
} from '../salesforce/consumer-credentials.ts'
import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import { CasConflictError, type SecretStore, type StoredConnection } from '../secrets/store.ts'
import type { ConsumerRotationView, ConsumerValidation } from '../schemas/consumer-rotation.ts'
import type { LoginGate } from '../sessions/login-gate.ts'
import { refusalProblem } from '../sessions/login-refusal.ts'
import type { SessionService } from '../sessions/session-service.ts'
import type { Documents } from '../shared-state/shared-state.ts'
import { consumerRotationDoc, consumerRotationPolicyDoc } from '../shared-state/state-names.ts'
import type { AuditLog } from './audit-log.ts'
import type { AdminContext, ConnectionAdmin } from './connection-admin.ts'
import { API_STEPS, SETUP_STEPS, WHY_SETUP, nextStepFor, type RotationMode, type RotationStep } from './consumer-rotation-guide.ts'
import { unconfirmedPurge } from './fleet-pending.ts'
import { originOf } from './secret-destination.ts'
import { distinctSessions } from '../sessions/distinct-sessions.ts'
import { refusalAuditOutcome, storeFailure, validationAuditOutcome } from './validation-audit.ts'

export interface ConsumerRotationOptions {
  store: SecretStore
  /** where the staged pair waits, encrypted like the connections (the store's `_consumer-rotations` folder) */
  pending: SecretStore | undefined
  admin: ConnectionAdmin
  sessions: SessionService
  state: Documents
  gate: LoginGate
  revoke: (session: SalesforceSession) => Promise<boolean>
  /** REVOKE_ON_ROTATION: the old pair's sessions, cached and handed out, are revoked at the switch */
  revokeOnRotation: boolean
  audit: AuditLog
  logger: Logger
  timeoutMs: number
  /** the calendar rotateEveryDays is counted with; default Date.now */
  calendar?: () => number
}

/** The non-secret progress of one rotation (shared state: every replica sees the same step). */
interface RotationState {
  mode: RotationMode
  step: RotationStep
  /** why the broker guides through Setup instead of making the calls */
  setupReason?: string
  appId?: string
  stagedCredentialsUrl?: string
  /** the staged credential's URL: promoted, then (the same id, state "rotated") deleted */
  stagedUrl?: string
  /** the consumer key the connection had: what the verify step expects to be refused */
  oldKey: string
  /** the staged consumer key (not secret) */
  newKey?: string
  /** the connection version before the switch (rollback, verify): the one read at start, then the one the switch replaced */
  fromVersion: number
  validatedPendingVersion?: number
  /** the connection version whose settings the validated pair was checked with: the switch writes onto no other */
  validatedBaseVersion?: number
  switchedVersion?: number
  startedAt: string
  pending?: string[]
}

export interface ConsumerPolicy { appId: string, rotateEveryDays?: number, lastRotatedAt?: string, /** when the policy was first set: the schedule's start before any rotation */ setAt?: string, /** when a scheduled run last stopped before the switch */ lastFailedAt?: string }

/** how long after a scheduled run that did not switch the schedule tries again */
const SCHEDULED_RETRY_MS = 86_400_000

const STATE_TTL_MS = 30 * 86_400_000
const POLICY_TTL_MS = 400 * 86_400_000

/**
 * Zero-downtime rotation of a connection's consumer key and secret (client credentials; the
 * consumer key of JWT bearer), built on Salesforce keeping two valid pairs while one is staged:
 *   start    — stage a new pair (Connect REST, when the connection's user has the rights; else the
 *              admin stages it in Setup and the answer lists the steps);
 *   validate — one guarded login with the staged pair, through the login gate;
 *   complete — check-and-set switch of the stored pair, sessions purged fleet-wide (the validating
 *              session is adopted: no extra login), then promote the staged pair and delete the old
 *              one (API mode) or guide the admin to do so (Setup mode);
 *   verify   — Setup mode: one login with the old pair must be refused;
 *   run      — every API step in one call (admin call, sfb, the rotateEveryDays schedule).
 */
export class ConsumerRotationService {
  private readonly opts: ConsumerRotationOptions

  constructor (opts: ConsumerRotationOptions) {
    this.opts = opts
    // a deleted connection takes its rotation with it: a new connection of that name must not inherit
    // the state, nor send the staged pair (a secret of another app, maybe another org) to its own host
    opts.admin.beforeRemove((name) => this.forget(name))
  }

  /** The connection is being deleted: the staged pair, the rotation's progress and its policy (another connection's app) go first. */
  private async forget (name: string): Promise<void> {
    await this.opts.pending?.remove(name)
    await this.opts.state.putJson(consumerRotationDoc(name), null, 1)
    await this.opts.state.putJson(consumerRotationPolicyDoc(name), null, 1)
  }

  async start (name: string, body: { appId?: string, mode?: RotationMode }, ctx: AdminContext): Promise<ConsumerRotationView> {
    const current = await this.mustRead(name)
    const d = current.definition
    if ((d.flow !== 'client_credentials' && d.flow !== 'jwt_bearer') || !d.clientId) {
      throw new DomainError('bad_request', `a consumer-secret rotation is for client_credentials and jwt_bearer connections with a consumer key; "${name}" is on ${d.flow}`, { connection: name })
    }
    if (await this.readState(name)) throw new DomainError('conflict', `a consumer-secret rotation of "${name}" is already under way: finish it or abandon it (DELETE …/consumer-rotation)`, { connection: name })
    const appId = body.appId ?? (await this.policy(name))?.appId
    const base = { oldKey: d.clientId, fromVersion: current.version, startedAt: new Date().toISOString() }
    let state: RotationState
    if (body.mode === 'setup' || appId === undefined) {
      state = { ...base, mode: 'setup', step: 'staged', setupReason: body.mode === 'setup' ? 'asked for' : WHY_SETUP.no_app }
    } else {
      try {
        state = await this.stageThroughApi(name, current, appId, base)
      } catch (err) {
        // nothing staged that the broker keeps (Salesforce unreachable, another app, the store refused
        // the staged pair): an admin tried all the same, and the audit says so
        const code = err instanceof DomainError ? err.code : undefined
        const outcome = code === 'bad_request' ? 'rejected' : code === 'conflict' ? 'conflict' : 'error'
        const classification = err instanceof DomainError
          ? (typeof err.extensions.classification === 'string' ? err.extensions.classification : code === 'bad_request' ? 'not_the_connections_app' : undefined)
          : storeFailure(err)
        await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.start', connection: name, outcome, ...(classification ? { classification } : {}), version: current.version, fields: ['mode:api'] })
        throw err
      }
    }
    await this.opts.state.putJson(consumerRotationDoc(name), state, STATE_TTL_MS)
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.start', connection: name, outcome: 'success', version: current.version, fields: [`mode:${state.mode}`] })
    return this.view(name, state)
  }

  /** Stages through Connect REST; falls back to Setup mode (saying why) when Salesforce does not let this user. */
  private async stageThroughApi (name: string, current: StoredConnection, appId: string, base: Pick<RotationState, 'oldKey' | 'fromVersion' | 'startedAt'>): Promise<RotationState> {
    const call = await this.call(name)
    const setup = (why: NotPermitted): RotationState => ({ ...base, mode: 'setup', step: 'staged', appId, setupReason: WHY_SETUP[why] })
    const consumers = await listConsumers(call, appId)
    if (!consumers.ok) {
      if (consumers.notPermitted) return setup(consumers.notPermitted)
      throw upstream(name, consumers.failure)
    }
    const consumer = consumers.value.find(c => c.key === base.oldKey)
    if (!consumer) {
      throw new DomainError('bad_request', `the External Client App "${appId}" has no consumer with this connection's consumer key: is appId the app this connection logs in with?`, { connection: name, errors: [{ path: 'body/appId', message: 'not the connection\'s app' }] })
    }
    const staged = await stageCredentials(call, consumer.stagedCredentialsUrl)
    if (!staged.ok) {
      if (staged.notPermitted) return setup(staged.notPermitted)
      throw upstream(name, staged.failure)
    }
    try {
      await this.writePending(name, { ...current.definition, clientId: staged.value.key, ...(current.definition.flow === 'client_credentials' ? { clientSecret: staged.value.secret } : {}) })
    } catch (err) {
      // a pair the broker could not keep is deleted at once: a second secret of the app that nobody holds
      // is only a liability, and would stand in the way of the next start (one staged pair per consumer)
      const removed = await deleteStaged(call, staged.value.url).catch(() => ({ ok: false as const }))
      if (!removed.ok) this.opts.logger.warn({ connection: name }, 'a staged consumer pair the broker could not keep is still staged at Salesforce: delete it in Setup (External Client App Manager)')
      throw err
    }
    return { ...base, mode: 'api', step: 'staged', appId, newKey: staged.value.key, stagedCredentialsUrl: consumer.stagedCredentialsUrl, stagedUrl: staged.value.url }
  }

  async get (name: string): Promise<ConsumerRotationView> {
    return this.view(name, await this.mustState(name))
  }

  /** One guarded login with the staged pair; `keep` hands the session back for the switch (run). */
  async validate (name: string, body: { clientId?: string, clientSecret?: string } | null, ctx: AdminContext, keep = false): Promise<Omit<ConsumerValidation, 'rotation'> & { rotation: ConsumerRotationView, session?: SalesforceSession }> {
    const current = await this.mustRead(name)
    const state = await this.mustState(name)
    if (state.step === 'switched' || state.step === 'done') throw new DomainError('conflict', `the rotation of "${name}" is past validation (${state.step})`, { connection: name })
    let pending = await this.pendingStore().read(name)
    // the staged pair on the connection as it is now: a write made since the pair was staged (a PUT, a
    // credentials rotation) is part of what is validated and later switched, not undone by an old copy
    const staged = pending === null ? {} : stagedPair(pending.definition)
    const given = { ...(body?.clientId ? { clientId: body.clientId } : {}), ...(body?.clientSecret ? { clientSecret: body.clientSecret } : {}) }
    if (pending !== null && staged.clientSecret !== undefined && given.clientSecret === undefined && originOf(pending.definition.loginUrl) !== originOf(current.definition.loginUrl)) {
      await this.refuseStagedMovingAway(name, current, pending.definition.loginUrl, ctx)
    }
    if (pending !== null || Object.keys(given).length > 0) {
      const candidate = { ...current.definition, ...staged, ...given }
      if (pending === null || JSON.stringify(candidate) !== JSON.stringify(pending.definition)) pending = await this.writePending(name, candidate, pending?.version ?? 0)
    }
    if (!pending) throw new DomainError('bad_request', 'give the staged consumer key and secret from Setup: {"clientId": "…", "clientSecret": "…"}', { connection: name })
    if (pending.definition.clientId === state.oldKey && current.definition.flow === 'jwt_bearer') {
      throw new DomainError('bad_request', 'that is the consumer key the connection has now: give the staged one', { connection: name })
    }
    const started = Date.now()
    const outcome = await this.opts.gate.obtain({ connection: name, definition: pending.definition, purpose: 'admin' })
    const latencyMs = Date.now() - started
    const audit = { actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.validate', connection: name, version: current.version }
    if ('refusal' in outcome) {
      await this.opts.audit.record({ ...audit, outcome: refusalAuditOutcome(outcome.refusal), classification: `not_attempted:${outcome.refusal.kind}` })
      throw refusalProblem(outcome.refusal, name, this.opts.gate.now())
    }
    const next: RotationState = { ...state, step: outcome.ok ? 'validated' : 'staged', newKey: pending.definition.clientId, validatedPendingVersion: outcome.ok ? pending.version : undefined, validatedBaseVersion: outcome.ok ? current.version : undefined }
    await this.opts.state.putJson(consumerRotationDoc(name), next, STATE_TTL_MS)
    await this.opts.audit.record({ ...audit, outcome: validationAuditOutcome(outcome), classification: outcome.ok ? 'ok' : outcome.failure.classification })
    if (outcome.ok && !keep) await this.opts.revoke(outcome.session).catch(() => false)
    return {
      ok: outcome.ok,
      classification: outcome.ok ? 'ok' : outcome.failure.classification,
      ...(outcome.ok ? {} : { message: outcome.failure.message, hint: outcome.failure.hint, retryable: outcome.failure.retryable }),
      latencyMs,
      nextStep: nextStepFor(next.mode, next.step),
      rotation: await this.view(name, next),
      ...(outcome.ok && keep ? { session: outcome.session } : {}),
    }
  }

  /** The switch, then (API mode) promote and delete at Salesforce. `session`: the validating login's, adopted. */
  async complete (name: string, ctx: AdminContext, session?: SalesforceSession): Promise<ConsumerRotationView> {
    let state = await this.mustState(name)
    const audit = { actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.complete', connection: name }
    if (state.step === 'staged') {
      await this.opts.audit.record({ ...audit, outcome: 'rejected', classification: 'not_validated' })
      throw new DomainError('conflict', 'validate the staged pair first (POST …/consumer-rotation/validate): it has not logged in successfully', { connection: name })
    }
    // replicas that did not confirm the switch's purge: said in this answer, not kept (nothing to retry)
    let notEverywhere: string[] = []
    if (state.step === 'validated') {
      try {
        ({ state, notEverywhere } = await this.switchOver(name, state, ctx, session))
      } catch (err) {
        // a conflict switched nothing: it is audited as every refused write is, and the validating
        // login's session (run) belongs to no version
        if (err instanceof DomainError && err.code === 'conflict') {
          if (session) await this.opts.revoke(session).catch(() => false)
          await this.opts.audit.record({ ...audit, outcome: 'conflict', version: err.extensions.currentVersion })
        }
        throw err
      }
    }
    if (state.mode === 'api' && state.step === 'switched') state = await this.retireOld(name, state)
    await this.opts.audit.record({ ...audit, outcome: 'success', version: state.switchedVersion, fields: [`step:${state.step}`, ...(state.pending || notEverywhere.length > 0 ? ['pending'] : [])] })
    const view = await this.view(name, state)
    const pending = [...view.pending ?? [], ...notEverywhere]
    return pending.length > 0 ? { ...view, pending } : view
  }

  private async switchOver (name: string, state: RotationState, ctx: AdminContext, session?: SalesforceSession): Promise<{ state: RotationState, notEverywhere: string[] }> {
    const current = await this.mustRead(name)
    const pending = await this.pendingStore().read(name)
    if (!pending || pending.version !== state.validatedPendingVersion) {
      throw new DomainError('conflict', 'the staged pair changed since it was validated: validate again', { connection: name })
    }
    if (ctx.ifMatch !== undefined && ctx.ifMatch !== current.version) {
      throw new DomainError('conflict', `If-Match names version ${ctx.ifMatch} but the current version is ${current.version}`, { connection: name, currentVersion: current.version })
    }
    const validatedWith = state.validatedBaseVersion ?? state.fromVersion
    if (current.version !== validatedWith) {
      throw new DomainError('conflict', `the connection was written (version ${current.version}) after the staged pair was validated with version ${validatedWith}: validate again (POST …/consumer-rotation/validate), which checks the staged pair with the connection as it is now`, { connection: name, currentVersion: current.version })
    }
    // under the login lease of the new pair's identity: a caller's login for the new version waits, then is served the adopted session
    const { written, unconfirmed, stale } = await this.opts.gate.exclusive(pending.definition, async () => {
      let written: { version: number }
      try {
        written = await this.opts.store.write(name, pending.definition, current.version)
      } catch (err) {
        if (!(err instanceof CasConflictError)) {
          // the store did not take the write (sealed, unreachable, refusing the broker): nothing
          // switched, an admin tried all the same, and the validating session belongs to no version
          if (session) await this.opts.revoke(session).catch(() => false)
          await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.complete', connection: name, outcome: 'error', classification: storeFailure(err), version: current.version })
          throw err
        }
        throw new DomainError('conflict', 'the connection changed while the switch was being made; read it again and retry', { connection: name, currentVersion: err.currentVersion })
      }
      // every replica drops the old pair's sessions and cached secret; the validating session serves from now on
      const { removed: purged, unconfirmed } = await this.opts.sessions.purge(name)
      const stale = this.opts.revokeOnRotation ? distinctSessions([...purged, ...await this.opts.sessions.takeIssued(name)], session) : []
      if (session) await this.opts.sessions.adopt(name, written.version, pending.definition, session)
      return { written, unconfirmed, stale }
    })
    // revoked after the lease: Salesforce's answers hold no caller's login back
    await Promise.all(stale.map(s => this.opts.revoke(s).catch(() => false)))
    await this.pendingStore().remove(name)
    await this.opts.admin.announceWritten(name, written.version)
    this.opts.logger.info({ connection: name, version: written.version, previousVersion: current.version, mode: state.mode }, 'consumer secret switched')
    const next: RotationState = { ...state, step: 'switched', switchedVersion: written.version, fromVersion: current.version }
    await this.opts.state.putJson(consumerRotationDoc(name), next, STATE_TTL_MS)
    return { state: next, notEverywhere: unconfirmedPurge(await unconfirmed) }
  }

  /**
   * The staged secret was stored for the host the connection had when it was staged: a connection
   * pointed at another host since (a PUT) must be given the pair again, never sent the one kept.
   */
  private async refuseStagedMovingAway (name: string, current: StoredConnection, stagedFor: string, ctx: AdminContext): Promise<never> {
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.validate', connection: name, outcome: 'rejected', classification: 'not_attempted:secrets_stay_home', target: originOf(current.definition.loginUrl), version: current.version })
    throw new DomainError('bad_request', `the connection logs in at another host than the one the staged pair was stored for (${originOf(stagedFor)}): give the staged consumer key and secret again, or abandon the rotation`, {
      connection: name,
      errors: [{ path: 'body/clientSecret', message: 'required: the connection\'s host changed since the pair was staged' }],
    })
  }

  /** Promote the staged pair and delete the former primary; what fails stays pending in the answer. */
  private async retireOld (name: string, state: RotationState): Promise<RotationState> {
    const call = await this.call(name)
    const pending: string[] = []
    const promoted = await promoteStaged(call, state.stagedUrl as string)
    if (!promoted.ok && promoted.notPermitted !== 'not_found') {
      pending.push(`promote the staged pair at Salesforce (${promoted.failure.message})`)
    } else {
      const listed = await listStaged(call, state.stagedCredentialsUrl as string)
      const former = listed.ok ? listed.value.find(c => c.key === state.oldKey) : undefined
      const removed = former ? await deleteStaged(call, former.url) : listed
      if (!removed.ok) pending.push(`delete the old pair at Salesforce (${removed.failure.message})`)
    }
    const next: RotationState = pending.length === 0 ? { ...state, step: 'done', pending: undefined } : { ...state, pending }
    await this.finishOrKeep(name, next)
    return next
  }

  /** Setup mode: the old pair must no longer log in (one login, through the gate). */
  async verify (name: string, ctx: AdminContext): Promise<ConsumerRotationView> {
    const state = await this.mustState(name)
    if (state.step !== 'switched') throw new DomainError('conflict', `nothing to verify yet: the rotation is at "${state.step}"`, { connection: name })
    await this.mustRead(name)
    const old = await this.opts.store.read(name, state.fromVersion)
    if (!old) throw new DomainError('not_found', `version ${state.fromVersion} of "${name}" is gone: nothing to verify against`, { connection: name })
    // the old version as it was stored: its pair goes only to the host it was stored for, even when
    // the connection was pointed elsewhere since (another org would refuse it, and that is no proof)
    const outcome = await this.opts.gate.obtain({ connection: name, definition: old.definition, purpose: 'admin' })
    if ('refusal' in outcome) throw refusalProblem(outcome.refusal, name, this.opts.gate.now())
    if (outcome.ok) await this.opts.revoke(outcome.session).catch(() => false)
    const retired = !outcome.ok && outcome.failure.classification === 'invalid_client'
    const next: RotationState = retired ? { ...state, step: 'done', pending: undefined } : { ...state, pending: [outcome.ok ? 'the old consumer key and secret still log in: delete them in Setup, then verify again' : `the old pair's login failed for another reason (${outcome.failure.classification}): check Setup, then verify again`] }
    await this.finishOrKeep(name, next)
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.verify', connection: name, outcome: retired ? 'success' : 'rejected', classification: outcome.ok ? 'old_pair_still_valid' : outcome.failure.classification })
    return this.view(name, next)
  }

  /** Every API step in one call; a rotation Salesforce does not let this user make comes back in Setup mode. */
  async run (name: string, body: { appId?: string }, ctx: AdminContext): Promise<ConsumerRotationView> {
    const started = await this.start(name, body, ctx)
    if (started.mode === 'setup') return started
    const validation = await this.validate(name, null, ctx, true)
    if (!validation.ok) return validation.rotation
    return this.complete(name, ctx, validation.session)
  }

  async abandon (name: string, ctx: AdminContext): Promise<void> {
    const state = await this.mustState(name)
    if (state.step === 'switched') throw new DomainError('conflict', 'the connection already uses the new pair: finish the rotation (complete/verify) or roll back (POST …/rollback)', { connection: name })
    if (state.mode === 'api' && state.stagedUrl && state.step !== 'done') {
      const removed = await deleteStaged(await this.call(name), state.stagedUrl)
      if (!removed.ok) throw upstream(name, removed.failure)
    }
    await this.pendingStore().remove(name)
    await this.opts.state.putJson(consumerRotationDoc(name), null, 1)
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.abandon', connection: name, outcome: 'success' })
  }

  async policy (name: string): Promise<ConsumerPolicy | null> {
    return this.opts.state.getJson<ConsumerPolicy>(consumerRotationPolicyDoc(name))
  }

  async setPolicy (name: string, policy: { appId: string, rotateEveryDays?: number }, ctx: AdminContext): Promise<ConsumerPolicy> {
    await this.mustRead(name)
    const previous = await this.policy(name)
    const next = { setAt: new Date(this.today()).toISOString(), ...previous, ...policy }
    await this.opts.state.putJson(consumerRotationPolicyDoc(name), next, POLICY_TTL_MS)
    await this.opts.audit.record({ actor: ctx.actor, requestId: ctx.requestId, action: 'consumer_rotation.policy', connection: name, outcome: 'success', fields: Object.keys(policy).sort() })
    return next
  }

  /**
   * The scheduler's turn (health's validation round, on the one replica that holds the connection's
   * validate lease): with rotateEveryDays set and that many days since the last rotation (or since the
   * policy was set), a rotation through the API. One Salesforce does not let the connection's user make
   * is dropped again (an admin is told through the log and the audit), never left half-way.
   */
  private today (): number {
    return (this.opts.calendar ?? Date.now)()
  }

  async runIfDue (name: string, now = this.today()): Promise<ConsumerRotationView | null> {
    const policy = await this.policy(name)
    if (!policy?.rotateEveryDays) return null
    const since = Date.parse(policy.lastRotatedAt ?? policy.setAt ?? '')
    if (!Number.isFinite(since) || now - since < policy.rotateEveryDays * 86_400_000) return null
    // a scheduled run that did not switch is tried again a day later, not at every validation round
    // (each stages and deletes a pair at Salesforce and spends a login)
    if (policy.lastFailedAt !== undefined && now - Date.parse(policy.lastFailedAt) < SCHEDULED_RETRY_MS) return null
    if (await this.readState(name)) return null
    const ctx = { actor: 'scheduler', requestId: `scheduled-consumer-rotation:${name}` }
    let result: ConsumerRotationView
    try {
      result = await this.run(name, {}, ctx)
    } catch (err) {
      // refused before the switch (the login guard, the hourly budget, Salesforce down): left under
      // way, the rotation would stop every later round (a rotation under way is never started again)
      await this.dropUnswitched(name, ctx, now)
      throw err
    }
    if (result.mode === 'setup') {
      await this.abandon(name, ctx)
      this.opts.logger.warn({ connection: name, reason: result.setupReason }, 'scheduled consumer-secret rotation not possible through the API: rotate through Setup (README "Consumer-secret rotation runbook")')
    } else if (result.step === 'staged') {
      // the staged pair did not log in: dropped (and deleted at Salesforce), so the next round tries again
      await this.dropUnswitched(name, ctx, now)
      this.opts.logger.warn({ connection: name }, 'scheduled consumer-secret rotation: the staged pair did not log in; it was deleted and the schedule tries again in a day')
    }
    return result
  }

  /** A scheduled rotation that did not reach the switch is abandoned; one past it is kept (complete retries what is pending). */
  private async dropUnswitched (name: string, ctx: AdminContext, now: number): Promise<void> {
    const state = await this.readState(name).catch(() => null)
    if (!state || (state.step !== 'staged' && state.step !== 'validated')) return
    const policy = await this.policy(name).catch(() => null)
    if (policy) await this.opts.state.putJson(consumerRotationPolicyDoc(name), { ...policy, lastFailedAt: new Date(now).toISOString() }, POLICY_TTL_MS).catch(() => {})
    await this.abandon(name, ctx).catch((err: unknown) => {
      this.opts.logger.warn({ connection: name, err: { message: (err as Error).message } }, 'scheduled consumer-secret rotation not abandoned: abandon it (DELETE …/consumer-rotation) before the next round can start one')
    })
  }

  private async finishOrKeep (name: string, state: RotationState): Promise<void> {
    if (state.step !== 'done') {
      await this.opts.state.putJson(consumerRotationDoc(name), state, STATE_TTL_MS)
      return
    }
    await this.opts.state.putJson(consumerRotationDoc(name), null, 1)
    const policy = await this.policy(name)
    // on the policy's calendar, which the next due check counts with
    if (policy) await this.opts.state.putJson(consumerRotationPolicyDoc(name), { ...policy, lastRotatedAt: new Date(this.today()).toISOString(), lastFailedAt: undefined }, POLICY_TTL_MS)
    this.opts.logger.info({ connection: name, mode: state.mode }, 'consumer secret rotation done')
  }

  /** A Connect REST call as the connection's own user, with its cached session (a login only on a miss). */
  private async call (name: string): Promise<CredentialsCall> {
    const issued = await this.opts.sessions.getSession(name, undefined, 'consumer-rotation')
    return { session: issued.entry.session, apiVersion: issued.apiVersion, timeoutMs: this.opts.timeoutMs }
  }

  private async view (name: string, state: RotationState): Promise<ConsumerRotationView> {
    return {
      connection: name,
      mode: state.mode,
      step: state.step,
      ...(state.setupReason ? { setupReason: state.setupReason } : {}),
      ...(state.appId ? { appId: state.appId } : {}),
      oldClientId: state.oldKey,
      ...(state.newKey ? { newClientId: state.newKey } : {}),
      fromVersion: state.fromVersion,
      ...(state.switchedVersion === undefined ? {} : { switchedVersion: state.switchedVersion }),
      startedAt: state.startedAt,
      steps: [...(state.mode === 'api' ? API_STEPS : SETUP_STEPS)],
      nextStep: nextStepFor(state.mode, state.step),
      ...(state.pending?.length ? { pending: state.pending } : {}),
    }
  }

  private async writePending (name: string, definition: ConnectionDefinition, cas = 0): Promise<StoredConnection> {
    try {
      const written = await this.pendingStore().write(name, definition, cas)
      return { name, version: written.version, createdTime: written.createdTime, definition }
    } catch (err) {
      if (err instanceof CasConflictError) throw new DomainError('conflict', 'the staged pair changed while this request was made; read the rotation again and retry', { connection: name })
      throw err
    }
  }

  private async readState (name: string): Promise<RotationState | null> {
    return this.opts.state.getJson<RotationState>(consumerRotationDoc(name))
  }

  private async mustState (name: string): Promise<RotationState> {
    const state = await this.readState(name)
    if (!state) throw new DomainError('not_found', `no consumer-secret rotation of "${name}" is under way: start one with POST …/consumer-rotation`, { connection: name })
    return state
  }

  private pendingStore (): SecretStore {
    if (!this.opts.pending) throw new DomainError('not_found', 'this secret store keeps no pending rotations')
    return this.opts.pending
  }

  private async mustRead (name: string): Promise<StoredConnection> {
    const stored = await this.opts.store.read(name)
    if (!stored) throw new DomainError('not_found', `no connection named "${name}"`, { connection: name })
    return stored
  }
}

function upstream (name: string, failure: { message: string, hint: string, classification: string }): DomainError {
  return new DomainError('salesforce_unavailable', `Salesforce's OAuth credentials resource answered: ${failure.message}`, { connection: name, classification: failure.classification, hint: failure.hint, retryable: true })
}

/** What a pending entry stages: the consumer key, and for client credentials its secret. */
function stagedPair (definition: ConnectionDefinition): Pick<ConnectionDefinition, 'clientId' | 'clientSecret'> {
  return { clientId: definition.clientId, ...(definition.flow === 'client_credentials' ? { clientSecret: definition.clientSecret } : {}) }
}
