import { createHmac } from 'node:crypto'
import { SECRET_FIELDS, type ConnectionDefinition } from '../salesforce/types.ts'

/**
 * Whose logins a definition spends, the unit Salesforce counts failed logins and the hourly login
 * rate by. Password, JWT and SOAP flows log in as a username, and Salesforce usernames are unique
 * across all orgs ("Usernames must be unique across all Salesforce orgs", Salesforce Help
 * "Username Requirements"), so the username alone names org and user, whatever login host a
 * candidate points at. Case does not tell usernames apart; spaces do: Salesforce does not trim
 * them, and a username stored with a trailing space is another username (Salesforce Help,
 * knowledge article 000387757), so the identity keeps them. Client credentials log in as the
 * app's Run-As user of one org: the connected app's consumer key on its My Domain host.
 */
export function loginIdentity (d: Pick<ConnectionDefinition, 'flow' | 'loginUrl' | 'username' | 'clientId'>): string {
  if (d.flow === 'client_credentials') return `app:${d.clientId ?? ''}@${hostOf(d.loginUrl)}`
  return `user:${(d.username ?? '').toLowerCase()}`
}

function hostOf (url: string): string {
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return url.toLowerCase()
  }
}

/**
 * A keyed hash of everything a login sends as a secret (plus who it is for), so a failing candidate
 * can be recognised without ever storing it. Keyed, because a plain hash of a short password can
 * be brute-forced from Redis.
 */
export function credentialHash (d: ConnectionDefinition, key: Buffer): string {
  const h = createHmac('sha256', key).update(loginIdentity(d)).update('\u0000').update(d.flow)
  for (const f of SECRET_FIELDS) h.update('\u0000').update(d[f] ?? '')
  return h.digest('hex').slice(0, 32)
}
