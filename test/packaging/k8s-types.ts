import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import type { K8sObject } from './helm-chart.ts'
import { modulePath } from './k8s-models.ts'

/**
 * `node k8s-types.ts < objects.json`: the rendered objects' type errors as a JSON array on stdout.
 * A program of its own so that the compiler runs outside tap's hooks (see unknownFieldErrors).
 */

const ROOT = join(import.meta.dirname, '..', '..')

/** Type name of a kind in the kubernetes-models declarations (Deployment -> IDeployment). */
function typeImport (object: K8sObject): string {
  return `import('${modulePath(object.apiVersion)}/${object.kind}').I${object.kind}`
}

/** The type check of unknownFieldErrors (k8s-schemas.ts): each object's errors, prefixed with its kind and name. */
function typeErrors (objects: K8sObject[]): string[] {
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

process.stdout.write(JSON.stringify(typeErrors(JSON.parse(readFileSync(0, 'utf8')) as K8sObject[])))
