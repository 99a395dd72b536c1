import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { helm } from './helm-binary.ts'

/** Renders the Helm chart with the real helm (`helm template`), and reads its files. */

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
  /** every Kubernetes object, from every rendered file */
  objects: K8sObject[]
}

export interface RenderOptions { releaseName?: string, namespace?: string, chartDir?: string }

export function readYaml (path: string): any {
  return parse(readFileSync(path, 'utf8'))
}

export function templateFiles (chartDir = CHART_DIR): string[] {
  return readdirSync(join(chartDir, 'templates')).sort()
}

export function chartValues (chartDir = CHART_DIR): Record<string, unknown> {
  return readYaml(join(chartDir, 'values.yaml'))
}

/** The chart's test values files (chart-testing's convention: ci/*-values.yaml). */
export function ciValuesFiles (chartDir = CHART_DIR): string[] {
  return readdirSync(join(chartDir, 'ci')).filter(f => f.endsWith('-values.yaml')).sort().map(f => join(chartDir, 'ci', f))
}

/**
 * Runs helm with each override as a values file (`-f`, applied in order: helm merges maps key by
 * key and a null deletes a key). Returns stdout, or throws helm's error text.
 */
export function helmWithValues (args: string[], overrides: unknown[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'sfb-helm-values-'))
  try {
    const files = overrides.map((values, i) => {
      const file = join(dir, `${i}.json`) // JSON is YAML
      writeFileSync(file, JSON.stringify(values))
      return file
    })
    const result = helm([...args, ...files.flatMap(f => ['-f', f])])
    // helm template reports on stderr, helm lint on stdout
    if (result.status !== 0) throw new Error(`${result.stderr}${result.stdout}`.trim() || `helm exited ${result.status}`)
    return result.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Splits `helm template` output at its `# Source:` comments, by template file. */
function splitBySource (manifest: string): Map<string, string> {
  const files = new Map<string, string>()
  for (const part of manifest.split(/^---\s*$/m)) {
    const source = /^# Source: [^/]+\/templates\/(.+)$/m.exec(part)
    if (source === null) continue
    files.set(source[1], (files.get(source[1]) ?? '') + part)
  }
  return files
}

function objectsOf (file: string, text: string): K8sObject[] {
  const objects: K8sObject[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${file} renders invalid YAML: ${doc.errors[0].message}\n${text}`)
    const object = doc.toJS() as K8sObject | null
    if (object !== null) objects.push(object)
  }
  return objects
}

export function renderChart (overrides: unknown[] = [], options: RenderOptions = {}): RenderedChart {
  const args = ['template', options.releaseName ?? 'rel', options.chartDir ?? CHART_DIR, '--namespace', options.namespace ?? 'brokers']
  const files = splitBySource(helmWithValues(args, overrides))
  return { files, objects: [...files].flatMap(([file, text]) => objectsOf(file, text)) }
}

/** NOTES.txt as `helm install` prints it (a client-side dry run: no cluster is contacted). */
export function renderNotes (overrides: unknown[] = [], options: RenderOptions = {}): string {
  const args = ['install', options.releaseName ?? 'rel', options.chartDir ?? CHART_DIR, '--namespace', options.namespace ?? 'brokers', '--dry-run=client', '--output', 'json']
  return JSON.parse(helmWithValues(args, overrides)).info.notes
}

export function findObject (chart: RenderedChart, kind: string): K8sObject | undefined {
  return chart.objects.find(o => o.kind === kind)
}

export function findObjects (chart: RenderedChart, kind: string): K8sObject[] {
  return chart.objects.filter(o => o.kind === kind)
}
