import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/**
 * Every process the benchmark starts is registered here, so it is stopped however the run ends:
 * normal end, a thrown error, Ctrl-C, or SIGTERM. Servers never run inside the load-generating
 * process: on a 2-core machine they would share one event loop with autocannon.
 */
const running = new Set<ChildProcess>()
let logDir = ''

export function setLogDir (dir: string): void {
  logDir = dir
}

export interface StartedChild {
  proc: ChildProcess
  name: string
  logFile: string
  stop (): Promise<void>
}

export interface SpawnOptions {
  name: string
  command: string
  args: string[]
  cwd?: string
  env: NodeJS.ProcessEnv
  /** resolves with the child's first stdout line instead of logging it (the simulator announces its URLs so); the rest is piped to the log */
  captureFirstLine?: boolean
  /** how long the first line may take (longer under valgrind); default 15 s */
  firstLineTimeoutMs?: number
}

/**
 * The command and arguments that run `script` on this Node (the bench's own, Node 22), under
 * `runUnder` (e.g. valgrind's callgrind and its options) and with Node's own `nodeArgs` (e.g. --prof).
 */
export function nodeCommand (script: string, o: { runUnder?: string[], nodeArgs?: string[] } = {}): { command: string, args: string[] } {
  const [command, ...args] = [...o.runUnder ?? [], process.execPath, ...o.nodeArgs ?? [], script]
  return { command, args }
}

export async function spawnChild (o: SpawnOptions): Promise<{ child: StartedChild, firstLine?: string }> {
  const logFile = join(logDir, `${o.name}.log`)
  if (!o.captureFirstLine) {
    // The child writes its log into the file itself: piped through this process, a broker's access
    // lines would cost the load generator CPU on the same two cores.
    const fd = openSync(logFile, 'a')
    const proc = spawn(o.command, o.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', fd, fd] })
    closeSync(fd)
    running.add(proc)
    proc.once('exit', () => { running.delete(proc) })
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve)
      proc.once('error', reject)
    })
    return { child: { proc, name: o.name, logFile, stop: () => stopChild(proc) } }
  }
  const log = createWriteStream(logFile)
  const proc = spawn(o.command, o.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(proc)
  proc.once('exit', () => { running.delete(proc) })
  proc.stderr?.pipe(log, { end: false })
  const child: StartedChild = { proc, name: o.name, logFile, stop: () => stopChild(proc, log) }
  const firstLine = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! })
    const timeoutMs = o.firstLineTimeoutMs ?? 15_000
    const timer = setTimeout(() => reject(new Error(`${o.name} printed nothing within ${timeoutMs / 1000} s (see ${logFile})`)), timeoutMs)
    let first = true
    lines.on('line', (line) => {
      if (first) {
        first = false
        clearTimeout(timer)
        resolve(line)
      } else {
        log.write(line + '\n')
      }
    })
    proc.once('error', (err) => { clearTimeout(timer); reject(err) })
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${o.name} exited with code ${code} before it was ready (see ${logFile})`)) })
  })
  return { child, firstLine }
}

async function stopChild (proc: ChildProcess, log?: WriteStream): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000)
    await exited
    clearTimeout(timer)
  }
  log?.end()
}

/** Stops every child still running: SIGTERM, then SIGKILL after 3 s. */
export async function stopAll (): Promise<void> {
  await Promise.all([...running].map(proc => new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000)
    proc.once('exit', () => { clearTimeout(timer); resolve() })
    proc.kill('SIGTERM')
  })))
}

/** Last resort on the way out: nothing may outlive the benchmark. */
export function installExitGuards (): void {
  process.on('exit', () => {
    for (const proc of running) proc.kill('SIGKILL')
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping child processes\n`)
      stopAll().finally(() => process.exit(130))
    })
  }
}

/** Polls `url` until it answers `status` (bounded by `timeoutMs`); fails early if the child died. */
export async function waitForHttp (url: string, child: StartedChild, timeoutMs = 20_000, status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited with code ${child.proc.exitCode} (see ${child.logFile})`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      await res.arrayBuffer()
      if (res.status === status) return
      last = `HTTP ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${child.name} not ready at ${url} within ${timeoutMs} ms (${last}; see ${child.logFile})`)
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

export { freePort } from '../../test/support/redis.ts'

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat CPU times. */
const CLOCK_TICKS = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

/**
 * User + system CPU seconds a process has used, read from /proc the same way for the broker and the
 * baseline (so the two are comparable); null where there is no /proc.
 */
export async function processCpuSeconds (pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // fields after "(comm)": state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}
