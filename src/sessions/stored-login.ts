import type { Logger } from 'pino'
import { DomainError } from '../errors.ts'
import { isRetired, type FlowSunsetTable } from '../salesforce/flow-sunset.ts'
import type { ClassifiedFailure, ConnectionDefinition } from '../salesforce/types.ts'
import type { CircuitStore, EventBus } from '../shared-state/shared-state.ts'
import { openCircuit, opensCircuit, type CircuitPolicy } from './circuit.ts'
import type { GateOutcome, GateRequest, LoginAttempt, LoginGate, LoginPolicy } from './login-gate.ts'

/** A certificate rotation waiting for Salesforce to accept its new key (src/admin/certificate-rotation.ts). */
export interface PendingKey {
  /** the connection's definition with the new key and certificate */
  definition: ConnectionDefinition
  /**
   * Makes it the connection's definition (check-and-set on `fromVersion`, sessions purged
   * fleet-wide, the rotation ended): the version it is stored as, or undefined when the
   * connection or the rotation changed meanwhile.
   */
  complete (fromVersion: number): Promise<number | undefined>
}

export interface PendingKeys {
  /** the rotation pending for the connection whose stored definition is `current`, if any (a shared-state read when there is none) */
  find (connection: string, current: ConnectionDefinition): Promise<PendingKey | undefined>
}

/** The gate's outcome; `switched` when the pending key logged in and the connection now stores it. */
export type StoredLoginOutcome = GateOutcome & { switched?: { version: number, definition: ConnectionDefinition } }

export interface StoredLoginOptions {
  gate: Pick<LoginGate, 'circuit' | 'clearCircuit'>
  state: CircuitStore & EventBus
  circuit: CircuitPolicy
  logger: Logger
  flowSunsets: FlowSunsetTable
  /** the calendar the sunsets are compared with */
  now: () => number
  /** the clock of the circuit (the gate's); default Date.now */
  clock?: () => number
}

/**
 * What a login with a connection's stored definition must pass besides the gate's guards:
 *  - after the announced end of its flow (src/salesforce/flow-sunset.ts), no login is sent: the
 *    answer is 503 flow_retired with the way out, unless the admin opted the connection out
 *    (`acceptRetiredFlow`: an org whose date is later);
 *  - while a certificate rotation is pending, a login refused for its assertion (the admin has
 *    uploaded the new certificate, and Salesforce holds one per app) is tried once more with the
 *    pending key through the same gate; its success completes the rotation, so no caller sees the
 *    moment between the upload and the switch.
 * The gate's funnel (LoginGate.obtain) applies it under its one lease: both logins go through the
 * `send` it hands over.
 */
export class StoredLogin implements LoginPolicy {
  private readonly opts: StoredLoginOptions
  private pendingKeys: PendingKeys | undefined

  constructor (opts: StoredLoginOptions) {
    this.opts = opts
  }

  /** The admin layer (built later) supplies the pending rotations. */
  usePendingKeys (source: PendingKeys): void {
    this.pendingKeys = source
  }

  retired (connection: string, definition: ConnectionDefinition): DomainError | undefined {
    return retiredFlowProblem(connection, definition, this.opts.flowSunsets, this.opts.now())
  }

  async attempt (req: GateRequest & { storedVersion: number }, send: LoginAttempt): Promise<StoredLoginOutcome> {
    const retired = this.retired(req.connection, req.definition)
    if (retired) throw retired
    const pending = req.definition.flow === 'jwt_bearer' ? await this.pendingKeys?.find(req.connection, req.definition) : undefined
    if (!pending) return send(req)

    // as a candidate: a refusal must not open the circuit (waiters would fail) before the pending key had its turn
    const first = await send({ ...req, storedVersion: undefined })
    if (first.ok) {
      if (await this.opts.gate.circuit(req.connection)) await this.opts.gate.clearCircuit(req.connection)
      return first
    }
    if ('refusal' in first) return first
    if (first.failure.classification !== 'invalid_assertion') return this.failed(req, first.failure)

    const second = await send({ connection: req.connection, definition: pending.definition, purpose: req.purpose })
    if (!second.ok) {
      this.opts.logger.warn({ connection: req.connection, pendingKey: 'refusal' in second ? `not_attempted:${second.refusal.kind}` : second.failure.classification }, 'the current key was refused and the pending rotation\'s key did not log in either')
      return this.failed(req, first.failure)
    }
    const version = await pending.complete(req.storedVersion)
    if (version === undefined) {
      // the rotation ended otherwise meanwhile (abandoned, or completed by an admin): the caller's next try reads the store again
      return this.failed(req, first.failure)
    }
    this.opts.logger.info({ connection: req.connection, fromVersion: req.storedVersion, version }, 'the current key was refused and the pending key logged in: certificate rotation completed')
    return { ...second, switched: { version, definition: pending.definition } }
  }

  /** A refusal of the stored key that the gate saw as a candidate's: its circuit opens here, as the gate would have. */
  private async failed (req: GateRequest & { storedVersion: number }, failure: ClassifiedFailure): Promise<StoredLoginOutcome> {
    if (!opensCircuit(failure)) return { ok: false, failure }
    const previous = await this.opts.state.getCircuit(req.connection)
    const circuit = openCircuit(previous, req.storedVersion, failure, this.opts.circuit, (this.opts.clock ?? Date.now)())
    await this.opts.state.putCircuit(req.connection, circuit)
    await this.opts.state.publish({ type: 'circuit', connection: req.connection, state: circuit })
    return { ok: false, failure, circuit }
  }
}

/**
 * 503 flow_retired for a connection whose flow Salesforce has retired by `now` (and no opt-out):
 * nothing may be sent with it. The session service and the health check answer from this one rule.
 */
export function retiredFlowProblem (connection: string, definition: ConnectionDefinition, sunsets: FlowSunsetTable, now: number): DomainError | undefined {
  if (definition.acceptRetiredFlow === true) return undefined
  const sunset = sunsets.get(definition.flow)
  if (sunset === undefined || !isRetired(sunset, now)) return undefined
  return new DomainError('flow_retired', `Salesforce retired the ${definition.flow} flow on ${sunset.date}: no login is sent with this connection`, {
    connection,
    retryable: false,
    hint: `Move the connection to ${sunset.moveTo.join(' or ')}: POST /v1/admin/connections/${connection}/migration or \`sfb migrate start ${connection} --to ${sunset.moveTo[0]}\` (README: "Flow retirement"). ` +
      `If this org still allows ${definition.flow}, opt the connection out: PUT /v1/admin/connections/${connection}?acceptRetiredFlow=true.`,
  })
}
