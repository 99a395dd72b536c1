import { spawn } from 'node:child_process'

/**
 * The static checks of `npm test`, run at once rather than one after another: eslint and tsc are
 * each one thread for about 15–30 s of CPU, so on 2 cores the pair takes the time of one. Each
 * check's output is printed whole when it ends (not interleaved); the exit code is the first
 * failure's. `npm test` (scripts/test.ts) runs them beside tap; `npm run checks` runs them alone.
 */
const CHECKS = ['lint', 'lint:layers', 'typecheck', 'lint:openapi']

export interface CheckResult { name: string, code: number, output: string, ms: number }

export function runChecks (): Promise<CheckResult[]> {
  return Promise.all(CHECKS.map(name => new Promise<CheckResult>(resolve => {
    const started = Date.now()
    const child = spawn('npm', ['run', '-s', name], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d })
    child.on('close', code => resolve({ name, code: code ?? 1, output, ms: Date.now() - started }))
  })))
}

/** Prints each check's outcome (and its output unless it passed silently); answers the exit code. */
export function reportChecks (results: CheckResult[]): number {
  for (const r of results) {
    process.stdout.write(`${r.code === 0 ? 'ok' : 'FAILED'}: npm run ${r.name} (${(r.ms / 1000).toFixed(1)} s)\n${r.code === 0 && r.output.trim() === '' ? '' : r.output}`)
  }
  return results.find(r => r.code !== 0)?.code ?? 0
}

if (process.argv[1] === import.meta.filename) process.exitCode = reportChecks(await runChecks())
