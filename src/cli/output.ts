/** Human output: aligned tables and key/value blocks. `--json` bypasses all of it and prints the API's answer. */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * Text with every terminal control character but line feed and tab written as a visible `\uXXXX`:
 * whatever a broker (or something between) answers, an escape sequence cannot clear the screen,
 * move the cursor, retitle the window or reverse the text around a fake "result: ok". Inside JSON
 * output the same escape is valid JSON for the same string.
 */
export function visible (text: string): string {
  return text.replace(CONTROL, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export type Cell = string | number | boolean | undefined | null

const text = (cell: Cell): string => cell === undefined || cell === null || cell === '' ? '-' : String(cell)

export function table (headers: string[], rows: Cell[][]): string {
  const cells = [headers, ...rows.map(r => r.map(text))]
  const widths = headers.map((_, i) => Math.max(...cells.map(r => r[i].length)))
  return cells.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ')).join('\n') + '\n'
}

export function keyValues (pairs: Array<[string, Cell]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${(k + ':').padEnd(width + 1)}  ${text(v)}`).join('\n') + '\n'
}

/** "3 min ago" style for timestamps in tables; exact times stay in --json. */
export function ago (iso: unknown, now = Date.now()): string | undefined {
  if (typeof iso !== 'string') return undefined
  const s = Math.round((now - Date.parse(iso)) / 1000)
  if (Number.isNaN(s)) return undefined
  const abs = Math.abs(s)
  const span = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`
  return s >= 0 ? `${span} ago` : `in ${span}`
}

/** The first sentence of a long text, cut to `max` characters: what fits in a table cell. */
export function brief (text: string | undefined, max = 60): string | undefined {
  if (text === undefined) return undefined
  const first = /^.*?[.;:](\s|$)/.exec(text)?.[0].trim() ?? text
  return first.length <= max ? first : `${first.slice(0, max - 1).trimEnd()}…`
}

/** Text broken at spaces into lines of at most `width` characters (a longer word keeps its own line), each indented. */
export function wrap (text: string, width = 100, indent = '  '): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(indent + line)
  return lines.join('\n') + '\n'
}

/** What an answer says has not happened everywhere yet (`pending`), one `pending: …` line each. */
export function pendingLines (pending: readonly string[] | undefined): string {
  return (pending ?? []).map(p => `pending: ${p}\n`).join('')
}
