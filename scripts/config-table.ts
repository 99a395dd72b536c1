import { ConfigSchema, FILE_VARIANTS } from '../src/config.ts'

/** The README's configuration table, from ConfigSchema's descriptions (a test keeps the README in step). */
export function configTable (): string {
  const rows = ['| Variable | Default | Meaning |', '| --- | --- | --- |']
  for (const [name, schema] of Object.entries(ConfigSchema.properties) as Array<[string, { default?: unknown, description?: string, anyOf?: Array<{ const?: unknown }> }]>) {
    const choices = schema.anyOf?.map(s => s.const).filter(v => v !== undefined)
    const def = schema.default === undefined ? '—' : `\`${String(schema.default) === '' ? '""' : String(schema.default)}\``
    const fromFile = FILE_VARIANTS.includes(name) ? `; or \`${name}_FILE\`: a file holding it` : ''
    const meaning = (schema.description ?? '') + (choices && choices.length > 0 ? ` (${choices.join(' | ')})` : '') + fromFile
    rows.push(`| \`${name}\` | ${def} | ${meaning.replace(/\|/g, '\\|')} |`)
  }
  return rows.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(configTable() + '\n')
