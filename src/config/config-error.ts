/** A setting the broker cannot start with; the message is the one line the operator sees (exit 78). */
export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
