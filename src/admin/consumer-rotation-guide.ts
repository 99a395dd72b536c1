/**
 * What an admin does in Setup for a consumer-secret rotation the broker cannot make itself (the
 * connection's user lacks the rights, the app is a connected app or a packaged External Client App),
 * and why the broker could not. The broker checks each step it can: the staged pair logs in
 * (validate), the switch is made check-and-set (complete), the old pair no longer logs in (verify).
 *
 * Sources: Salesforce Help "Stage, Rotate, and Delete OAuth Credentials for a Local External Client
 * App" (xcloud.eca_stage_oauth_credentials: "External Client App Developer" and "View Client Secret",
 * the setting "Allow access to External Client App consumer secrets via REST API", local apps only);
 * "Rotate the Consumer Key and Consumer Secret of a Connected App" (Manage Consumer Details: staged
 * consumer details work beside the current ones until applied).
 */
import type { NotPermitted } from '../salesforce/consumer-credentials.ts'

export type RotationMode = 'api' | 'setup'
export type RotationStep = 'staged' | 'validated' | 'switched' | 'done'

export const WHY_SETUP: Record<NotPermitted | 'no_app', string> = {
  permission: 'the connection\'s user lacks "External Client App Developer" or "View Client Secret" (Setup > Permission Sets), so the broker cannot stage through the API',
  setting: 'the app\'s "Allow access to External Client App consumer secrets via REST API" is off (Setup > External Client App Manager > [app] > Settings), so the broker cannot stage through the API',
  packaged: 'the app is a packaged External Client App: only local apps have staged credentials through the API',
  not_found: 'Salesforce does not know that External Client App identifier in this org (or the user cannot see it)',
  no_app: 'no External Client App identifier (appId) was given: a connected app, or a rotation through Setup',
}

export const SETUP_STEPS = [
  'Stage new consumer details: External Client App — Setup > External Client App Manager > [app] > Settings > OAuth Settings > Consumer Key and Secret; connected app — Setup > App Manager > [app] > View > Manage Consumer Details. Generate (stage) a new consumer key and secret; the current pair keeps working.',
  'Send the staged key and secret to the broker: POST /v1/admin/connections/{name}/consumer-rotation/validate {"clientId": "…", "clientSecret": "…"} (sfb consumer-rotation validate NAME clientSecret). One guarded login checks them.',
  'Switch: POST …/consumer-rotation/complete. Every replica serves with the new pair from then on.',
  'In Setup, promote (apply) the staged consumer details and delete the old ones.',
  'Verify: POST …/consumer-rotation/verify. One login with the old pair must be refused; the rotation is done.',
] as const

export const API_STEPS = [
  'The broker staged a new consumer key and secret through Connect REST API (both pairs work while staged).',
  'Validate: POST …/consumer-rotation/validate — one guarded login with the staged pair.',
  'Complete: POST …/consumer-rotation/complete — the check-and-set switch, fleet-wide, then the broker promotes the staged pair and deletes the old one.',
] as const

export function nextStepFor (mode: RotationMode, step: RotationStep): string {
  if (step === 'done') return 'Nothing: the rotation is done.'
  if (step === 'staged') {
    return mode === 'api'
      ? 'Validate the staged pair: POST …/consumer-rotation/validate'
      : 'Stage new consumer details in Setup, then validate them: POST …/consumer-rotation/validate {"clientId": "…", "clientSecret": "…"}'
  }
  if (step === 'validated') return 'Switch the connection to the validated pair: POST …/consumer-rotation/complete'
  return mode === 'api'
    ? 'The switch is made; promoting or deleting at Salesforce did not finish: POST …/consumer-rotation/complete again'
    : 'In Setup, promote (apply) the staged consumer details and delete the old ones, then POST …/consumer-rotation/verify'
}
