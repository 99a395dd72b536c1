import type { K8sObject } from './helm-chart.ts'

/**
 * Validates rendered objects against Kubernetes' own OpenAPI schemas, as compiled by the
 * kubernetes-models packages (built-in kinds) and @kubernetes-models/prometheus-operator
 * (ServiceMonitor, PrometheusRule from the operator's CRDs).
 * Limit: those schemas, like the API server's, do not close objects (no additionalProperties:
 * false), so a misspelt optional field is not caught here; the chart tests assert the fields
 * that matter by name.
 */

interface Model { validate: () => void }
type ModelClass = new (data: unknown) => Model

/** Packages that model CRD groups; everything else is a built-in group of kubernetes-models. */
const CRD_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
}

function modulePath (apiVersion: string): string {
  const slash = apiVersion.indexOf('/')
  if (slash === -1) return `kubernetes-models/${apiVersion}` // the core group: v1
  const group = apiVersion.slice(0, slash)
  return `${CRD_PACKAGES[group] ?? 'kubernetes-models'}/${apiVersion}`
}

/** Error messages (empty when valid); an unknown apiVersion/kind is an error too. */
export async function schemaErrors (object: K8sObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name} (${object.apiVersion})`
  let mod: Record<string, unknown>
  try {
    mod = await import(modulePath(object.apiVersion))
  } catch {
    return [`${where}: no schema for apiVersion ${object.apiVersion}`]
  }
  const Kind = mod[object.kind] as ModelClass | undefined
  if (typeof Kind !== 'function') return [`${where}: no schema for kind ${object.kind}`]
  try {
    new Kind(object).validate()
    return []
  } catch (err) {
    return [`${where}: ${(err as Error).message}`]
  }
}
