/**
 * Requests waiting for something to change on a connection (another process's login finished, a
 * circuit opened): woken by shared-state events, or after their own timeout as a fallback.
 */
export class ChangeWaiters {
  private readonly waiters = new Map<string, Set<() => void>>()

  wait (connection: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(connection)
      if (!set) {
        set = new Set()
        this.waiters.set(connection, set)
      }
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.waiters.get(connection) === set) this.waiters.delete(connection)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, ms))
      set.add(done)
    })
  }

  wake (connection: string): void {
    const set = this.waiters.get(connection)
    if (set) for (const w of [...set]) w()
  }

  wakeAll (): void {
    for (const connection of [...this.waiters.keys()]) this.wake(connection)
  }
}
