import { readFile } from 'node:fs/promises'
import { CliError, EXIT } from './broker-api.ts'

/**
 * Secrets reach sfb three ways, none of them argv (visible in `ps`, kept in shell history):
 * a hidden prompt on the terminal, stdin (`--stdin`), or a file (`--from-file field=path`).
 */

export interface SecretSources {
  stdin: boolean
  /** field → path */
  files: Map<string, string>
  input: NodeJS.ReadStream
  output: NodeJS.WriteStream
}

/** Reads one line from the terminal without echoing it. Ctrl-C aborts (exit 130), Ctrl-D ends the line. */
export function hiddenPrompt (question: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string> {
  if (!input.isTTY) {
    return Promise.reject(new CliError(EXIT.usage, 'no terminal for a hidden prompt: pipe the secret with --stdin or name a file with --from-file field=path'))
  }
  // echo off first: a person types as soon as the question shows, and on a busy machine the process
  // may not run again before the first key arrives (the terminal would print it)
  input.setRawMode(true)
  output.write(question)
  return new Promise((resolve, reject) => {
    let value = ''
    input.resume()
    input.setEncoding('utf8')
    const finish = (err?: Error) => {
      input.setRawMode(false)
      input.pause()
      input.removeListener('data', onData)
      output.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    // raw mode hands over the keys a terminal's line editing would have handled: an escape sequence
    // (arrow, Home, End, Delete: CSI `ESC [ params final`, SS3 `ESC O x`, ECMA-48 §5.4) is skipped whole,
    // and Ctrl-U starts the line over, as at any password prompt; otherwise their bytes would become
    // part of a secret nobody can see, and a wrong password costs a failed login at Salesforce
    let escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none'
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (escape === 'esc') {
          escape = ch === '[' ? 'csi' : ch === 'O' ? 'ss3' : 'none'
          // the Escape key alone: the key after it is typed as usual
          if (escape !== 'none') continue
        }
        if (escape === 'csi') escape = ch >= '@' && ch <= '~' ? 'none' : 'csi'
        else if (escape === 'ss3') escape = 'none'
        else if (ch === '\u001b') escape = 'esc'
        else if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish()
        else if (ch === '\u0003') return finish(new CliError(130, 'cancelled'))
        else if (ch === '\u0015') value = ''
        else if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else if (ch >= ' ') value += ch
      }
    }
    input.on('data', onData)
  })
}

/**
 * The field names after NAME, checked against `allowed`. A word that is not one is refused without being
 * echoed: it may be the secret itself, typed where the usage shows its field's name (`… clientSecret`),
 * and stderr goes to the terminal's scrollback and CI logs.
 */
export function fieldNames (words: string[], allowed: readonly string[], why = ''): string[] {
  const at = words.findIndex(w => !allowed.includes(w))
  if (at >= 0) {
    throw new CliError(EXIT.usage, `word ${at + 1} after NAME is not a field name${why} (not shown: it may be a secret, and if it is, your shell history holds it now); the fields: ${allowed.join(', ')}. Their values come from the hidden prompt, --stdin or --from-file`)
  }
  return words
}

async function readAll (input: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The values of `fields`. With --stdin: one field takes all of stdin (a PEM key may span lines),
 * several take one line each, in the order named. Files hold one value each; a final newline is dropped.
 */
export async function readSecrets (fields: string[], sources: SecretSources, describe: (field: string) => string): Promise<Record<string, string>> {
  const values: Record<string, string> = {}
  const fromPrompt = fields.filter(f => !sources.files.has(f))
  for (const [field, path] of sources.files) {
    if (!fields.includes(field)) throw new CliError(EXIT.usage, `--from-file ${field}=…: ${field} is not one of the fields being set (${fields.join(', ')})`)
    try {
      values[field] = (await readFile(path, 'utf8')).replace(/\r?\n$/, '')
    } catch (err) {
      throw new CliError(EXIT.usage, `--from-file ${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  if (sources.stdin && fromPrompt.length > 0) {
    // a terminal in its usual mode echoes every key: what is typed for --stdin stays on the screen and in its scrollback
    if (sources.input.isTTY) throw new CliError(EXIT.usage, '--stdin reads a pipe or a file (sfb … --stdin < FILE); at a terminal, leave --stdin out: sfb asks at a hidden prompt')
    const text = await readAll(sources.input)
    if (fromPrompt.length === 1) values[fromPrompt[0]] = text.replace(/\r?\n$/, '')
    else {
      const lines = text.split(/\r?\n/)
      if (lines.at(-1) === '') lines.pop()
      if (lines.length !== fromPrompt.length) throw new CliError(EXIT.usage, `--stdin: expected ${fromPrompt.length} lines (${fromPrompt.join(', ')}), got ${lines.length}`)
      fromPrompt.forEach((field, i) => { values[field] = lines[i] })
    }
  } else {
    for (const field of fromPrompt) values[field] = await hiddenPrompt(`${describe(field)} (hidden): `, sources.input, sources.output)
  }
  for (const field of fields) {
    if (values[field] === '') throw new CliError(EXIT.usage, `${field} is empty`)
  }
  return values
}
