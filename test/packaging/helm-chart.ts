import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { TemplateSet } from './go-template.ts'

/** Renders a Helm chart the way `helm template` does, with the interpreter in go-template.ts. */

export const CHART_DIR = new URL('../../helm/sf-broker/', import.meta.url).pathname

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string, namespace?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  spec?: any
  data?: Record<string, string>
  [key: string]: unknown
}

export interface RenderedChart {
  /** rendered text of each template file, by file name (templates/ relative) */
  files: Map<string, string>
  /** every Kubernetes object, from every rendered .yaml file */
  objects: K8sObject[]
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Helm's values merge: maps merge key by key, anything else replaces; null deletes the key. */
export function mergeValues (base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key]
    else merged[key] = mergeValues(base[key], value)
  }
  return merged
}

export function readYaml (path: string): any {
  return parse(readFileSync(path, 'utf8'))
}

export function templateFiles (chartDir = CHART_DIR): string[] {
  return readdirSync(join(chartDir, 'templates')).sort()
}

export function chartValues (chartDir = CHART_DIR): Record<string, unknown> {
  return readYaml(join(chartDir, 'values.yaml'))
}

export function renderChart (overrides: unknown[] = [], options: { releaseName?: string, namespace?: string, chartDir?: string } = {}): RenderedChart {
  const chartDir = options.chartDir ?? CHART_DIR
  const chart = readYaml(join(chartDir, 'Chart.yaml')) as Record<string, unknown>
  const values = overrides.reduce(mergeValues, chartValues(chartDir))
  // Helm exposes Chart.yaml's fields capitalised: .Chart.Name, .Chart.AppVersion…
  const chartObject = Object.fromEntries(Object.entries(chart).map(([k, v]) => [k[0].toUpperCase() + k.slice(1), v]))
  const base = `${chart.name as string}/templates`
  const set = new TemplateSet()
  const files = templateFiles(chartDir)
  for (const file of files) set.add(`${base}/${file}`, readFileSync(join(chartDir, 'templates', file), 'utf8'))

  const rendered = new Map<string, string>()
  const objects: K8sObject[] = []
  for (const file of files.filter(f => !f.startsWith('_'))) {
    const context = {
      Values: values,
      Chart: chartObject,
      Release: { Name: options.releaseName ?? 'rel', Namespace: options.namespace ?? 'brokers', Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1 },
      Template: { BasePath: base, Name: `${base}/${file}` },
    }
    const out = set.render(`${base}/${file}`, context)
    rendered.set(file, out)
    if (!file.endsWith('.yaml')) continue
    for (const doc of parseAllDocuments(out)) {
      if (doc.errors.length > 0) throw new Error(`${file} renders invalid YAML: ${doc.errors[0].message}\n${out}`)
      const object = doc.toJS() as K8sObject | null
      if (object !== null) objects.push(object)
    }
  }
  return { files: rendered, objects }
}

export function findObject (chart: RenderedChart, kind: string): K8sObject | undefined {
  return chart.objects.find(o => o.kind === kind)
}
