import { execFileSync } from 'node:child_process'
import { outsideTap } from '../support/outside-tap.ts'
import type { K8sObject } from './helm-chart.ts'
import { modulePath } from './k8s-models.ts'

/**
 * Validates rendered objects against Kubernetes' own OpenAPI schemas, as compiled by the
 * kubernetes-models packages (built-in kinds) and @kubernetes-models/prometheus-operator
 * (ServiceMonitor, PrometheusRule from the operator's CRDs).
 * Those schemas, like the API server's, do not close objects (no additionalProperties: false),
 * so a misspelt optional field passes them: unknownFieldErrors below catches it.
 */

interface Model { validate: () => void }
type ModelClass = new (data: unknown) => Model

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

const TYPE_CHECK = new URL('./k8s-types.ts', import.meta.url).pathname

/**
 * Unknown and mistyped fields, which the JSON schemas let through: TypeScript checks each object,
 * as an object literal, against the kubernetes-models declarations generated from the same
 * OpenAPI documents, and an object literal may not carry a property its type does not declare.
 * One program for all the objects, compiled in a child outside tap's hooks (k8s-types.ts): the
 * compiler is the slow part, and several times slower under tap's coverage.
 */
export function unknownFieldErrors (objects: K8sObject[]): string[] {
  const [command, args] = outsideTap(process.execPath, [TYPE_CHECK])
  return JSON.parse(execFileSync(command, args, { input: JSON.stringify(objects), encoding: 'utf8', maxBuffer: 64 << 20 })) as string[]
}
