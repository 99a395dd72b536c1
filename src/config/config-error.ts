/**
 * A setting the broker cannot start with (exit 78). `problems` holds every one found in one pass, one
 * line each, so a start reports them all instead of one per attempt; the message is those lines.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[]

  constructor (problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems
    super(list.join('\n'))
    this.name = 'ConfigError'
    this.problems = list
  }
}

/** Collects configuration problems: each check runs, whatever the ones before it found. */
export class ConfigProblems {
  readonly list: string[] = []

  add (problem: string): void {
    if (!this.list.includes(problem)) this.list.push(problem)
  }

  /** Runs a check that throws ConfigError at its first problem; other checks still run. */
  check (fn: () => void): void {
    try {
      fn()
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      for (const p of err.problems) this.add(p)
    }
  }

  throwIfAny (): void {
    if (this.list.length > 0) throw new ConfigError(this.list)
  }
}
