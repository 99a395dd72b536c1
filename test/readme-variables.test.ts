import { readFileSync } from 'node:fs'
import t from 'tap'

/** A shell variable the README asks you to export means one thing everywhere it is used. */

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('SIM is the simulator\'s base URL wherever the README uses it (the demo org\'s control API is SIM_ORG)', async (t) => {
  const assigned = [...README.matchAll(/\bSIM=(\S+)/g)].map(m => m[1])
  t.same(assigned.filter(v => v.includes('/_sim/')), [], 'SIM is never set to a control-API path')
  const uses = [...README.matchAll(/\$SIM\b(\/\S*)?/g)].map(m => m[1] ?? '')
  t.ok(uses.length > 0)
  t.same(uses.filter(u => !u.startsWith('/_sim/')), [], 'every $SIM/… goes on with /_sim/…, as for a base URL')
  const org = [...README.matchAll(/\$SIM_ORG(\/\S*)/g)].map(m => m[1])
  t.ok(org.every(u => !u.startsWith('/_sim/')), '$SIM_ORG already is the org\'s control API')
})
