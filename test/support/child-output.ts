import type { ChildProcess } from 'node:child_process'

/**
 * Waits for a child process (a broker, the demo) to print `pattern` on stdout — the event, not a
 * number of polls: start-up takes 1 s on a quiet machine and 20 s on a loaded one. Rejects when the
 * child exits first (with what it printed on stdout and stderr), or after `timeoutMs`.
 */
export function untilPrinted (child: ChildProcess, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let errText = ''
    const done = (err?: Error) => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onErr)
      child.off('close', onExit)
      if (err) reject(err)
      else resolve(out)
    }
    const onData = (d: Buffer | string) => {
      out += String(d)
      if (pattern.test(out)) done()
    }
    const onErr = (d: Buffer | string) => { errText += String(d) }
    const onExit = (code: number | null) => done(new Error(`exited (${code}) before printing ${pattern}: ${out.slice(-2000)}${errText === '' ? '' : `\nstderr: ${errText.slice(-2000)}`}`))
    const timer = setTimeout(() => done(new Error(`not printed within ${timeoutMs} ms: ${pattern}: ${out.slice(-2000)}`)), timeoutMs)
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onErr)
    // 'close', not 'exit': the last of stdout and stderr (the reason it stopped) has arrived by then
    child.once('close', onExit)
  })
}
