import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import ts from 'typescript'
import * as names from '../../src/shared-state/state-names.ts'

const root = new URL('../..', import.meta.url).pathname
const MODULE = 'src/shared-state/state-names.ts'

/**
 * Every name, made with sample arguments. Pinned: a name is what replicas of two releases share
 * during a rolling upgrade (a renamed one is forgotten once), and a once-key is hashed into the
 * event id receivers de-duplicate by. A change here must be meant.
 */
const PINNED: Record<keyof typeof names, [string, string]> = {
  transientHoldOffDoc: [names.transientHoldOffDoc('acme'), 'transient-holdoff:acme'],
  revokedDoc: [names.revokedDoc('acme'), 'revoked:acme'],
  reloginFloorLease: [names.reloginFloorLease('acme'), 'relogin-floor:acme'],
  orgSessionDoc: [names.orgSessionDoc('00D1'), 'org-session:00D1'],
  loginUserLease: [names.loginUserLease('user:a@b.c'), 'login-user:user:a@b.c'],
  loginGuardDoc: [names.loginGuardDoc('user:a@b.c'), 'login-guard:user:a@b.c'],
  loginInFlightDoc: [names.loginInFlightDoc('user:a@b.c'), 'login-in-flight:user:a@b.c'],
  loginGuardTruthDoc: [names.loginGuardTruthDoc('user:a@b.c'), 'login-guard-truth:user:a@b.c'],
  loginGuardAskedDoc: [names.loginGuardAskedDoc('user:a@b.c'), 'login-guard-asked:user:a@b.c'],
  salesforceUserDoc: [names.salesforceUserDoc('user:a@b.c'), 'salesforce-user:user:a@b.c'],
  loginBudgetWindow: [names.loginBudgetWindow('sfuser:00D1/0051'), 'logins:sfuser:00D1/0051'],
  loginRateHoldDoc: [names.loginRateHoldDoc('sfuser:00D1/0051'), 'login-rate-hold:sfuser:00D1/0051'],
  // sha256('token') = 3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0
  tokenVerdictDoc: [names.tokenVerdictDoc('token'), 'token-verdict:3c469e9d6c5875d37a43f353d4f88e61'],
  tokenVerifyLease: [names.tokenVerifyLease('token'), 'verify:token-verdict:3c469e9d6c5875d37a43f353d4f88e61'],
  forcedRefreshWindow: [names.forcedRefreshWindow('app-1'), 'forced-refresh:app-1'],
  healthDoc: [names.healthDoc('acme'), 'health:acme'],
  validateLease: [names.validateLease('acme', 1764870000000), 'validate-1764870000000:acme'],
  healthCheckLease: [names.healthCheckLease('acme'), 'health-check:acme'],
  orgIdentityDoc: [names.orgIdentityDoc('acme'), 'org-identity:acme'],
  apiUsageDoc: [names.apiUsageDoc('acme'), 'proxy-api-usage:acme'],
  proxyCallsQuota: [names.proxyCallsQuota('billing', 'minute', 1764870000000), 'proxy-calls-minute-1764870000000:billing'],
  consumerRotationDoc: [names.consumerRotationDoc('acme'), 'consumer-rotation:acme'],
  consumerRotationPolicyDoc: [names.consumerRotationPolicyDoc('acme'), 'consumer-rotation-policy:acme'],
  migrationIdDoc: [names.migrationIdDoc('acme'), 'migration-id:acme'],
  migrationValidatedDoc: [names.migrationValidatedDoc('acme'), 'migration-validated:acme'],
  migrationEndLease: [names.migrationEndLease('acme', 'id-1'), 'migration-end:acme:id-1'],
  notifyOnceLease: [names.notifyOnceLease('audit:7'), 'notify-once:audit:7'],
  budgetReserveOnce: [names.budgetReserveOnce('acme', 1764867600000), 'budget-reserve-1764867600000:acme'],
  guardTrippedOnce: [names.guardTrippedOnce('acme', 1764870000000), 'guard-tripped-1764870000000:acme'],
  auditOnce: [names.auditOnce('7'), 'audit:7'],
  healthStatusOnce: [names.healthStatusOnce('acme', 0, 'failing'), 'status:acme:0:failing'],
  sunsetOnce: [names.sunsetOnce('acme', 'soap', '2027-06-30', 30), 'sunset:acme:soap:2027-06-30:30'],
  certificateOnce: [names.certificateOnce('acme', 'AB:CD', 7), 'certificate:acme:AB:CD:7'],
  recentNotificationsStream: [names.recentNotificationsStream(), 'notifications'],
  deadLettersStream: [names.deadLettersStream(), 'notification-dead-letters'],
  auditStream: [names.auditStream('admin') + ' ' + names.auditStream('handouts'), 'audit audit-handouts'],
}

/**
 * Names of earlier releases that nothing may make again: the per-connection login lease (the
 * gate's funnel takes the Salesforce user's only), and the holds renamed to say which is which.
 */
const RETIRED = ['login', 'login-hold', 'holdoff']

/** `kind` of every `<kind>:<owner>` name. */
const kinds = Object.values(PINNED).map(([, name]) => name).filter(name => name.includes(':')).map(name => name.slice(0, name.indexOf(':')))

/** The text of every string literal in `source` (quoted, or a template's text before its first `${`); comments are not code. */
function literals (source: string): string[] {
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) found.push(node.text)
    else if (ts.isTemplateExpression(node)) found.push(node.head.text)
    ts.forEachChild(node, visit)
  }
  visit(ts.createSourceFile('scanned.ts', source, ts.ScriptTarget.Latest, true))
  return found
}

/** `<kind>:` of every literal in `source` that starts a name of one of `kinds`. */
function namesBuilt (source: string, kinds: readonly string[]): string[] {
  return literals(source).flatMap(text => kinds.filter(kind => text.startsWith(`${kind}:`)).map(kind => `${kind}:`))
}

/** Literals that look like a name but are not one, with why. */
const NOT_NAMES: Record<string, string[]> = {
  // an audit record's field `revoked:<count>` (how many sessions the kill switch revoked)
  'src/admin/session-revocation.ts': ['revoked:'],
}

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

t.test('every name is pinned, and each kind belongs to one function', async (t) => {
  t.same(Object.keys(PINNED).sort(), Object.keys(names).sort(), 'the table covers every export')
  for (const [fn, [made, pinned]] of Object.entries(PINNED)) t.equal(made, pinned, fn)
  t.equal(new Set(kinds).size, kinds.length, `kinds are distinct: ${kinds.join(' ')}`)
})

t.test('the two holds say which is which', async (t) => {
  t.match(names.loginRateHoldDoc('u'), /^login-rate-hold:/)
  t.match(names.transientHoldOffDoc('c'), /^transient-holdoff:/)
})

t.test('the scan finds a name built outside the module', async (t) => {
  const $ = '$' // a template literal inside the sample source
  t.same(namesBuilt(`const k = \`holdoff:${$}{connection}\`; const o = 'login:x'`, [...kinds, ...RETIRED]), ['holdoff:', 'login:'])
  t.same(namesBuilt(`const user = \`sfuser:${$}{org}\`; url.protocol === 'https:'`, [...kinds, ...RETIRED]), [], 'other prefixes pass')
  t.same(namesBuilt('/** the `login:` lease */ // holdoff:x', [...kinds, ...RETIRED]), [], 'comments are not code')
})

t.test('no file of src/ but the module builds a shared-state name', async (t) => {
  const files = sources(join(root, 'src'))
  t.ok(files.length > 50, `${files.length} source files read`)
  const found: string[] = []
  for (const file of files) {
    const rel = relative(root, file).split('\\').join('/')
    if (rel === MODULE) continue
    const source = readFileSync(file, 'utf8')
    const allowed = NOT_NAMES[rel] ?? []
    for (const hit of namesBuilt(source, [...kinds, ...RETIRED])) if (!allowed.includes(hit)) found.push(`${rel}: ${hit}`)
    for (const stream of [names.deadLettersStream(), names.auditStream('handouts')]) {
      if (source.includes(`'${stream}'`)) found.push(`${rel}: '${stream}'`)
    }
  }
  t.same(found, [], 'names are made in ' + MODULE)
})
