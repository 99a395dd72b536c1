import type { Row } from './context.ts'

function verdict (pass: boolean | null | undefined): string {
  if (pass === undefined) return ''
  if (pass === null) return 'n/a'
  return pass ? 'PASS' : 'FAIL'
}

/** The run's results as a plain-text table, one scenario block after another. */
export function formatTable (rows: Row[]): string {
  const header = ['Scenario', 'Metric', 'Value', 'Target', 'Result']
  const cells = rows.map((r, i) => [
    i > 0 && rows[i - 1].scenario === r.scenario ? '' : r.scenario,
    r.metric,
    r.value,
    r.target ?? '',
    verdict(r.pass),
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map(row => row[c].length)))
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()
  const rule = widths.map(w => '-'.repeat(w)).join('  ')
  const out = [line(header), rule]
  cells.forEach((row, i) => {
    if (i > 0 && row[0] !== '') out.push('')
    out.push(line(row))
  })
  return out.join('\n')
}
