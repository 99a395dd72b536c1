import { DomainError } from '../errors.ts'

const shuttingDown = (connection: string) =>
  new DomainError('shutting_down', 'this replica is stopping before the Salesforce login finished', { connection, retryable: true }, 1)

/**
 * The shutdown deadline of the session service: until it, logins and waits go on; at it, every
 * step still waiting ends with 503 shutting_down (its lease is released by the lease loop's
 * `finally`), and no new login starts. Counts what it cut short for the shutdown's log line.
 */
export class StopSignal {
  private readonly controller = new AbortController()
  readonly tally = { cutShort: 0, abandonedLogins: 0 }

  /** aborted at the deadline: leases held for work still running are released then */
  get signal (): AbortSignal {
    return this.controller.signal
  }

  /** Arms the deadline: at it the signal aborts, which ends every wait on it (untilStopped, the gate's lease). */
  stopBy (deadline: number): void {
    if (this.controller.signal.aborted) return
    setTimeout(() => { this.controller.abort() }, Math.max(0, deadline - Date.now())).unref()
  }

  throwIfStopped (connection: string): void {
    if (this.controller.signal.aborted) throw shuttingDown(connection)
  }

  /** Waits for a step of a login, or until the shutdown deadline, whichever comes first. */
  untilStopped<T> (connection: string, step: Promise<T>, onAbandoned?: () => void): Promise<T> {
    const signal = this.controller.signal
    if (signal.aborted) return Promise.reject(shuttingDown(connection))
    return new Promise((resolve, reject) => {
      const abandon = () => {
        onAbandoned?.()
        reject(shuttingDown(connection))
      }
      signal.addEventListener('abort', abandon, { once: true })
      step.then(
        (value) => { signal.removeEventListener('abort', abandon); resolve(value) },
        (err: unknown) => { signal.removeEventListener('abort', abandon); reject(err) })
    })
  }
}
