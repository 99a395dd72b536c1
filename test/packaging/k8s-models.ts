/** Where the kubernetes-models packages declare a kind: shared by the schema check and the type check. */

/** Packages that model CRD groups; everything else is a built-in group of kubernetes-models. */
const CRD_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
}

export function modulePath (apiVersion: string): string {
  const slash = apiVersion.indexOf('/')
  if (slash === -1) return `kubernetes-models/${apiVersion}` // the core group: v1
  const group = apiVersion.slice(0, slash)
  return `${CRD_PACKAGES[group] ?? 'kubernetes-models'}/${apiVersion}`
}
