import { readFileSync } from 'node:fs'
import { ConfigError } from './config-error.ts'

/**
 * Where a setting's value comes from besides its own variable: a `<VARIABLE>_FILE` (a mounted Kubernetes
 * or Docker secret, so the value never sits in the process environment) and curl's lower-case proxy
 * variables. The environment is passed in: src/config.ts stays the only reader of process.env.
 */

/**
 * Fills `raw` from `<VARIABLE>_FILE` for each of `names` (the settings that allow it); the file's content
 * is never quoted in an error.
 */
export function readFileVariants (env: NodeJS.ProcessEnv, raw: Record<string, string>, names: readonly string[]): void {
  for (const name of names) {
    const fileVariable = `${name}_FILE`
    const file = env[fileVariable]
    if (file === undefined || file === '') continue
    if (raw[name] !== undefined) throw new ConfigError(`invalid ${fileVariable}: set either ${name} or ${fileVariable}, not both`)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      throw new ConfigError(`invalid ${fileVariable}: cannot read the file (${code}); mount the secret at that path or unset ${fileVariable}`)
    }
    // secret volumes and `echo >` end the value with a newline that is not part of it
    const value = text.replace(/\r?\n$/, '')
    if (value === '') throw new ConfigError(`invalid ${fileVariable}: the file is empty; put the value of ${name} in it`)
    raw[name] = value
  }
}

/** curl's lower-case spelling of the proxy variables, the one many images set; the upper case wins. */
export function readLowerCaseProxyVariables (env: NodeJS.ProcessEnv, raw: Record<string, string>): void {
  for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) {
    const lower = env[name.toLowerCase()]
    if (raw[name] === undefined && lower !== undefined && lower !== '') raw[name] = lower
  }
}
