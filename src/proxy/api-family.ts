/**
 * Which Salesforce API a proxied path belongs to, as policy rules name them. The path has been
 * checked by targetPath(); names are compared case-insensitively, as Salesforce resolves them.
 */
export interface ApiCall {
  /** lower case: sobjects, query, queryall, search, composite, jobs/ingest, tooling, apexrest, limits… */
  api: string
  /** sobjects (and tooling/sobjects): the object API name, as written in the path */
  object?: string
  /** the path under the family (always starts with /; "/" when there is none) */
  rest: string
}

const VERSION = /^v\d{1,3}\.\d$/

export function apiCall (path: string): ApiCall {
  const segments = path.split('/').slice(1)
  if (segments[1] === 'apexrest') return { api: 'apexrest', rest: '/' + segments.slice(2).join('/') }
  // /services/data → the version list; /services/data/vNN.N → that version's resources
  if (segments.length <= 2 || segments[2] === '') return { api: 'versions', rest: '/' }
  if (!VERSION.test(segments[2])) return { api: 'unknown', rest: '/' }
  const [family, second] = [segments[3]?.toLowerCase() ?? '', segments[4]]
  if (family === '') return { api: 'resources', rest: '/' }
  if (family === 'sobjects') return withObject('sobjects', segments.slice(4))
  if (family === 'tooling' && second?.toLowerCase() === 'sobjects') return withObject('tooling', segments.slice(5))
  if (family === 'jobs' && second !== undefined && second !== '') return { api: `jobs/${second.toLowerCase()}`, rest: '/' + segments.slice(5).join('/') }
  return { api: family, rest: '/' + segments.slice(4).join('/') }
}

function withObject (api: string, after: string[]): ApiCall {
  const object = after[0] === undefined || after[0] === '' ? undefined : after[0]
  return { api, ...(object === undefined ? {} : { object }), rest: '/' + after.slice(1).join('/') }
}
