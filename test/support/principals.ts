import { generateApiKey } from '../../src/auth/api-key.ts'
import { parsePrincipals, type PrincipalDirectory } from '../../src/auth/principals.ts'

export interface TestPrincipals {
  directory: PrincipalDirectory
  /** the document, as PRINCIPALS_JSON would hold it */
  json: string
  /** service "billing", granted `connections` */
  billingKey: string
  /** service "reporting", granted nothing */
  reportingKey: string
  /** admin "ops" (no role: full rights, as before roles) */
  adminKey: string
  /** admin "sre" with the viewer role */
  viewerKey?: string
  /** admin "oncall" with the operator role */
  operatorKey?: string
}

export function testPrincipals (connections: string[] = ['acme'], rateLimitPerMinute?: number): TestPrincipals {
  const billing = generateApiKey('billing')
  const reporting = generateApiKey('reporting')
  const admin = generateApiKey('ops')
  const viewer = generateApiKey('sre')
  const operator = generateApiKey('oncall')
  const doc = {
    principals: [
      { id: 'billing', kind: 'service', apiKeySha256: [billing.sha256], connections, ...(rateLimitPerMinute ? { rateLimitPerMinute } : {}) },
      { id: 'reporting', kind: 'service', apiKeySha256: [reporting.sha256], connections: [] },
      { id: 'ops', kind: 'admin', apiKeySha256: [admin.sha256] },
      { id: 'sre', kind: 'admin', role: 'viewer', apiKeySha256: [viewer.sha256] },
      { id: 'oncall', kind: 'admin', role: 'operator', apiKeySha256: [operator.sha256] },
    ],
  }
  return { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: billing.key, reportingKey: reporting.key, adminKey: admin.key, viewerKey: viewer.key, operatorKey: operator.key }
}
