import { X509Certificate } from 'node:crypto'
import { Type, type Static } from 'typebox'
import type { BrokerMetrics } from '../metrics/metrics.ts'
import type { ConnectionDefinition } from '../salesforce/types.ts'
import { warnAhead, type Verdict } from './dated-warning.ts'

/**
 * The certificate of a JWT bearer connection as health shows it (admin view): when Salesforce's
 * copy stops matching a valid certificate, and where the key is. Computed from the stored PEM on
 * every report (real time: the days run down without a check); the metric lets alerting count
 * down (the chart's SfBrokerCertificateExpiring rule).
 */
export const CertificateHealthSchema = Type.Object({
  notAfter: Type.String({ format: 'date-time', description: 'The certificate uploaded to the app expires then' }),
  daysLeft: Type.Integer({ description: 'Whole days until then; 0 or less once expired' }),
  issuedAt: Type.String({ format: 'date-time', description: 'The key and its certificate were made then (the certificate\'s notBefore: a minute before)' }),
  ageDays: Type.Integer({ description: 'Whole days since the key and certificate were made' }),
  fingerprint256: Type.String(),
  keyCustody: Type.Union([Type.Literal('store'), Type.Literal('vault-transit')]),
}, { additionalProperties: false, description: 'JWT bearer: the certificate the broker made and the age of its key; inside CERT_EXPIRY_WARN_DAYS the connection is warn — rotate with POST …/certificate-rotation (CERT_ROTATION_START_DAYS starts it by itself)' })
export type CertificateHealth = Static<typeof CertificateHealthSchema>

const DAY_MS = 86_400_000

export function certificateHealth (d: ConnectionDefinition, now = Date.now()): CertificateHealth | undefined {
  if (d.flow !== 'jwt_bearer' || !d.certificate) return undefined
  try {
    const cert = new X509Certificate(d.certificate)
    const notAfter = Date.parse(cert.validTo)
    const issuedAt = Date.parse(cert.validFrom)
    return {
      notAfter: new Date(notAfter).toISOString(),
      // rounded up, as a flow sunset's: a certificate in its last day has 1 day left, not 0 ("already")
      daysLeft: Math.ceil((notAfter - now) / DAY_MS),
      issuedAt: new Date(issuedAt).toISOString(),
      ageDays: Math.max(0, Math.floor((now - issuedAt) / DAY_MS)),
      fingerprint256: cert.fingerprint256,
      keyCustody: d.transitKey ? 'vault-transit' : 'store',
    }
  } catch {
    return undefined
  }
}

/** Inside the window an ok connection becomes warn (see warnAhead). */
export function certificateVerdict (current: Verdict, cert: CertificateHealth | undefined, warnDays: number): Verdict {
  if (cert === undefined) return current
  return warnAhead(current, cert.daysLeft, warnDays, when => ({
    message: `the certificate of this JWT bearer connection expires on ${cert.notAfter.slice(0, 10)} (${when})`,
    hint: 'Rotate the key and certificate: POST /v1/admin/connections/{name}/certificate-rotation (or `sfb cert-rotation start NAME`) and upload the new certificate to the app; the broker switches at the next login (README: "Certificate rotation").',
  }))
}

/** One series per connection that has a certificate; none for the others. */
export function updateCertificateGauge (metrics: BrokerMetrics, connection: string, d: ConnectionDefinition | undefined): void {
  const cert = d ? certificateHealth(d) : undefined
  if (cert === undefined) {
    metrics.certificateExpiry.remove({ connection })
    metrics.certificateIssued.remove({ connection })
  } else {
    metrics.certificateExpiry.set({ connection }, Date.parse(cert.notAfter) / 1000)
    metrics.certificateIssued.set({ connection }, Date.parse(cert.issuedAt) / 1000)
  }
}
