import t from 'tap'
import { readFile } from 'node:fs/promises'
import { configTable } from '../scripts/config-table.ts'

t.test('the README starts with the two commands and carries the generated configuration table', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const firstBlock = readme.split('```')[1]
  t.match(firstBlock, /npm run demo/)
  t.match(firstBlock, /npm test/)
  t.ok(readme.includes(configTable()), 'run `npm run config-table` after changing src/config.ts')
})
