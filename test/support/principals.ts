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
  /** admin "ops" */
  adminKey: string
}

export function testPrincipals (connections: string[] = ['acme'], rateLimitPerMinute?: number): TestPrincipals {
  const billing = generateApiKey('billing')
  const reporting = generateApiKey('reporting')
  const admin = generateApiKey('ops')
  const doc = {
    principals: [
      { id: 'billing', kind: 'service', apiKeySha256: [billing.sha256], connections, ...(rateLimitPerMinute ? { rateLimitPerMinute } : {}) },
      { id: 'reporting', kind: 'service', apiKeySha256: [reporting.sha256], connections: [] },
      { id: 'ops', kind: 'admin', apiKeySha256: [admin.sha256] },
    ],
  }
  return { directory: parsePrincipals(doc), json: JSON.stringify(doc), billingKey: billing.key, reportingKey: reporting.key, adminKey: admin.key }
}
