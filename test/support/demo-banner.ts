/**
 * Where the demo (scripts/demo.ts) listens, read from its banner: the broker (its Health line) and
 * the Salesforce simulator. Tests start it on PORT=0, so the banner is the only place that says.
 */
export function demoAddresses (banner: string): { base: string, sim: string } {
  const sim = /Salesforce simulator: (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1]
  const base = /Health: (http:\/\/127\.0\.0\.1:\d+)\/health/.exec(banner)?.[1]
  if (sim === undefined || base === undefined) throw new Error(`no addresses in the demo's banner: ${banner}`)
  return { base, sim }
}
