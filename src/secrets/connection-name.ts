/**
 * A connection name becomes part of a secret-store path ({prefix}/{name}). Only strict slugs are
 * accepted, checked before any request is built, so no name can climb out of the prefix
 * ("../x", "%2e%2e"), address a folder ("a/b") or smuggle bytes into a URL.
 */
export const CONNECTION_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

export class InvalidConnectionNameError extends Error {
  constructor () {
    // the rejected value is not echoed: it may be anything, including control bytes
    super(`invalid connection name: must match ${CONNECTION_NAME_PATTERN.source}`)
    this.name = 'InvalidConnectionNameError'
  }
}

export function isConnectionName (name: unknown): name is string {
  return typeof name === 'string' && CONNECTION_NAME_PATTERN.test(name)
}

export function assertConnectionName (name: unknown): asserts name is string {
  if (!isConnectionName(name)) throw new InvalidConnectionNameError()
}
