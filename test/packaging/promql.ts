import { parser } from '@prometheus-io/lezer-promql'
import { BrokerMetrics } from '../../src/metrics/metrics.ts'

/** PromQL checks with Prometheus' own grammar (the one its UI uses), and the broker's metric names. */

export interface ParsedQuery { errors: number, metrics: string[] }

export function parsePromql (expr: string): ParsedQuery {
  let errors = 0
  const metrics: string[] = []
  parser.parse(expr).iterate({
    enter: node => {
      if (node.type.isError) errors++
      // the metric name of a selector is its Identifier child
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.push(expr.slice(node.from, node.to))
    },
  })
  return { errors, metrics }
}

/** Every series name the broker exports on /metrics (histograms as _bucket/_sum/_count). */
export async function exportedSeries (): Promise<Set<string>> {
  const names = new Set<string>()
  for (const metric of await new BrokerMetrics().registry.getMetricsAsJSON()) {
    const type = String(metric.type)
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count', '']) names.add(metric.name + suffix)
    } else {
      names.add(metric.name)
    }
  }
  return names
}

/** Prometheus' own series of a scrape target (https://prometheus.io/docs/concepts/jobs_instances/). */
export const SCRAPE_SERIES = new Set(['up'])
