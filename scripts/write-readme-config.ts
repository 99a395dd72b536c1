import { readFile, writeFile } from 'node:fs/promises'
import { configTable } from './config-table.ts'

/** Replaces the table between the README's config markers with the generated one. */
const path = new URL('../README.md', import.meta.url)
const text = await readFile(path, 'utf8')
const start = '<!-- config:start -->'
const end = '<!-- config:end -->'
const before = text.slice(0, text.indexOf(start) + start.length)
const after = text.slice(text.indexOf(end))
await writeFile(path, `${before}\n${configTable()}\n${after}`)
