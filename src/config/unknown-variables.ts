/**
 * Kubernetes injects service links into every pod (a Service "redis" gives REDIS_SERVICE_HOST,
 * REDIS_PORT, REDIS_PORT_6379_TCP_ADDR…): those share the broker's prefixes without being typos.
 */
const SERVICE_LINK = /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/

/**
 * Well-known variables of other programs that share a prefix with a setting (NO_PROXY's NO_, SESSION_…):
 * set by terminals, desktops and CI runners, never a typo of the broker's.
 */
const FOREIGN = new Set(['NO_COLOR', 'SESSION_MANAGER', 'HTTP_PROXY_REQUEST_FULLURI'])

export function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]
}

/**
 * Variables that look like the broker's (VAULT_…, REDIS_…, LOGIN_…) but are none of `known`: a typo
 * (VAULT_ADRR) would otherwise be ignored in silence and the default used; REDIS_ULR would start a
 * replica without Redis and without the fleet-wide lockout guard. One line each, sorted.
 * The environment is passed in: src/config.ts stays the only reader of process.env.
 */
export function unknownVariables (env: NodeJS.ProcessEnv, known: ReadonlySet<string>): string[] {
  const prefixes = new Set([...known].filter(n => n.includes('_')).map(n => n.slice(0, n.indexOf('_') + 1)))
  const warnings: string[] = []
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || FOREIGN.has(name) || name !== name.toUpperCase() || SERVICE_LINK.test(name)) continue
    if (![...prefixes].some(p => name.startsWith(p))) continue
    const [closest] = [...known].map(k => ({ k, d: editDistance(name, k) })).sort((a, b) => a.d - b.d)
    warnings.push(closest && closest.d <= 3
      ? `unknown variable ${name}; did you mean ${closest.k}?`
      : `unknown variable ${name} (not a setting of sf-broker; see the README's configuration table)`)
  }
  return warnings
}
