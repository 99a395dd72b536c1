import { X509Certificate } from 'node:crypto'
import { SECRET_FIELDS, type ConnectionDefinition } from '../salesforce/types.ts'
import type { StoredConnection } from '../secrets/store.ts'
import type { MigrationView } from '../schemas/migration.ts'
import { setupChecklist, type MigrationTarget } from './migration-checklist.ts'

/** What an admin sees of a pending migration (or certificate rotation): never a secret, only which are set. */
export function migrationView (current: StoredConnection, pending: StoredConnection): MigrationView {
  const d = pending.definition
  const target = d.flow as MigrationTarget
  const rotation = target === 'jwt_bearer' && current.definition.flow === 'jwt_bearer'
  const ready = target === 'jwt_bearer' ? Boolean(d.clientId) : Boolean(d.clientId && d.clientSecret)
  return {
    connection: current.name,
    from: { flow: current.definition.flow, version: current.version },
    to: {
      flow: target,
      loginUrl: d.loginUrl,
      ...(d.username ? { username: d.username } : {}),
      ...(d.clientId ? { clientId: d.clientId } : {}),
      secretsSet: SECRET_FIELDS.filter(f => typeof d[f] === 'string' && d[f] !== ''),
    },
    rotation,
    ...(d.certificate ? { certificate: certificateInfo(d) } : {}),
    checklist: setupChecklist(target, d, rotation, current.definition.username, current.name),
    updatedAt: pending.createdTime,
    pendingVersion: pending.version,
    nextStep: ready
      ? 'Follow the checklist, then validate: POST …/migration/validate'
      : `Follow the checklist, then validate with what Setup gave: POST …/migration/validate {"clientId": "…"${target === 'client_credentials' ? ', "clientSecret": "…"' : ''}}`,
  }
}

function certificateInfo (d: ConnectionDefinition): NonNullable<MigrationView['certificate']> {
  const cert = new X509Certificate(d.certificate!)
  return {
    pem: d.certificate!,
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint256: cert.fingerprint256,
    keyCustody: d.transitKey ? 'vault-transit' : 'store',
    ...(d.transitKey ? { transitKey: d.transitKey } : {}),
  }
}
