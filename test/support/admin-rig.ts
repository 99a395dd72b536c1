import { bearer, buildTestApp, type Teardown } from '../helper.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'

/**
 * A broker with the connection "acme" written through the admin API (validated by its login), driven
 * over HTTP as an admin and a caller would: admin calls, a caller's session request, the row health shows.
 */
export async function acmeBroker (t: Teardown, definition: ConnectionDefinition, env: Record<string, string> = {}) {
  const { app, principals } = await buildTestApp(t, { env })
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, payload, headers: bearer(principals.adminKey) })
  const session = () => app.inject({ method: 'POST', url: '/v1/connections/acme/session', headers: bearer(principals.billingKey) })
  const put = await admin('PUT', '/v1/admin/connections/acme', definition)
  if (put.statusCode !== 201) throw new Error(put.body)
  const health = async () => (await admin('GET', '/health/salesforce?connection=acme')).json().connections[0]
  return { admin, session, health }
}
