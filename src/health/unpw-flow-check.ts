import type { ConnectionDefinition, SalesforceSession } from '../salesforce/types.ts'
import { readUnpwFlowSetting, type UnpwFlowSetting } from '../salesforce/unpw-flow-setting.ts'
import type { UnpwFlowRead } from './health-result.ts'
import type { TokenBucket } from './token-bucket.ts'

/** Reads the org's username-password flow setting with a session (src/salesforce/unpw-flow-setting.ts). */
export type UnpwFlowReader = (session: SalesforceSession, apiVersion: string) => Promise<UnpwFlowSetting>

export function defaultUnpwFlowReader (timeoutMs: number): UnpwFlowReader {
  return (session, apiVersion) => readUnpwFlowSetting(session, { apiVersion, timeoutMs })
}

/**
 * For an oauth_password connection, one Metadata API call with the session the validation holds
 * (a cached one, or the one its login just made): the setting that will refuse the next login is
 * seen while the current session still works. Other flows are not concerned (SOAP login() is not
 * an OAuth flow): nothing is sent.
 */
export async function readUnpwFlowFor (definition: Pick<ConnectionDefinition, 'flow' | 'apiVersion'>, session: SalesforceSession, deps: { read: UnpwFlowReader, bucket: TokenBucket, now?: () => number }): Promise<{ unpwFlow?: UnpwFlowRead }> {
  if (definition.flow !== 'oauth_password') return {}
  await deps.bucket.take()
  const setting = await deps.read(session, definition.apiVersion).catch((): UnpwFlowSetting => ({ state: 'unknown', reason: 'unknown: the read failed unexpectedly' }))
  return { unpwFlow: { ...setting, readAt: (deps.now ?? Date.now)() } }
}
