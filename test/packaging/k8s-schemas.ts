import { join } from 'node:path'
import ts from 'typescript'
import type { K8sObject } from './helm-chart.ts'
import { ROOT } from './repo.ts'

/**
 * Validates rendered objects against Kubernetes' own OpenAPI schemas, as compiled by the
 * kubernetes-models packages (built-in kinds) and @kubernetes-models/prometheus-operator
 * (ServiceMonitor, PrometheusRule from the operator's CRDs).
 * Those schemas, like the API server's, do not close objects (no additionalProperties: false),
 * so a misspelt optional field passes them: unknownFieldErrors below catches it.
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

/** Type name of a kind in the kubernetes-models declarations (Deployment -> IDeployment). */
function typeImport (object: K8sObject): string {
  return `import('${modulePath(object.apiVersion)}/${object.kind}').I${object.kind}`
}

/**
 * Unknown and mistyped fields, which the JSON schemas let through: TypeScript checks each object,
 * as an object literal, against the kubernetes-models declarations generated from the same
 * OpenAPI documents, and an object literal may not carry a property its type does not declare.
 * One program for all the objects (the compiler is the slow part).
 */
export function unknownFieldErrors (objects: K8sObject[]): string[] {
  const file = join(ROOT, 'test/packaging/rendered-objects.virtual.ts')
  const source = objects.map((o, i) => `export const o${i}: ${typeImport(o)} = ${JSON.stringify(o)}\n`).join('')
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  }
  const host = ts.createCompilerHost(options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = path => path === file || fileExists(path)
  host.readFile = path => path === file ? source : readFile(path)
  host.getSourceFile = (path, language, ...rest) => path === file
    ? ts.createSourceFile(path, source, language)
    : getSourceFile(path, language, ...rest)
  const program = ts.createProgram([file], options, host)
  const sourceFile = program.getSourceFile(file) as ts.SourceFile
  return ts.getPreEmitDiagnostics(program, sourceFile).map(d => {
    const line = d.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(d.start).line
    const o = objects[line]
    const where = o === undefined ? 'rendered objects' : `${o.kind}/${o.metadata?.name}`
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`
  })
}
