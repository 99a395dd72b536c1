import type { Classification, ConnectionDefinition } from '../salesforce/types.ts'

/**
 * What an admin does in Salesforce Setup between starting a migration and validating it, in the
 * order Setup asks for it (Salesforce Help "Create
 * an External Client App", "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration", "OAuth
 * 2.0 Client Credentials Flow for Server-to-Server Integration"). External Client Apps come first:
 * since Spring '26 many orgs can no longer create connected apps.
 */
export type MigrationTarget = 'jwt_bearer' | 'client_credentials'

/**
 * `runAs`: the user the connection logs in as today, named as the Run-As user of client credentials.
 * `connection`: its name; the certificate file is `<connection>.crt`, the name the download carries
 * (Content-Disposition of GET …/migration/certificate) and the README uses.
 */
export function setupChecklist (target: MigrationTarget, d: ConnectionDefinition, rotation: boolean, runAs?: string, connection = 'sf-broker'): string[] {
  const certFile = `${connection}.crt`
  if (target === 'jwt_bearer') {
    const user = d.username ?? 'the integration user'
    if (rotation) {
      return [
        `Download the new certificate (GET …/certificate-rotation/certificate, or \`sfb cert-rotation certificate ${connection} > ${certFile}\`).`,
        'Setup > External Client App Manager (or App Manager for a connected app) > the app of this connection > Edit Settings > OAuth Settings: replace the certificate under "Use digital signatures" with the new one. An app holds one certificate: from then on only the new key logs in; cached sessions keep serving.',
        'Nothing else is needed: the first login Salesforce refuses the old key for is made again with the new one, and its success switches the connection (fleet-wide, audited). To switch at once instead: validate (POST …/certificate-rotation/validate), then complete (POST …/certificate-rotation/complete).',
      ]
    }
    return [
      `Download the certificate (GET …/migration/certificate, or the \`certificate\` field of this answer) and keep it as ${certFile}.`,
      'Setup > External Client App Manager > New External Client App (or, where the org still allows it, App Manager > New Connected App): name it, give a contact email, distribution state Local.',
      'Enable OAuth; callback URL http://localhost:1717/OauthRedirect (not used by this flow, but required); OAuth scopes: "Manage user data via APIs (api)" and "Perform requests at any time (refresh_token, offline_access)".',
      `Check "Enable JWT Bearer Flow" / "Use digital signatures" and upload ${certFile}.`,
      'Policies: Permitted Users = "Admin approved users are pre-authorized"; IP Relaxation as your network needs.',
      `Grant access: add the profile of ${user}, or a permission set assigned to ${user}, to the app's policies (Manage Profiles / Manage Permission Sets).`,
      'Copy the Consumer Key (Settings > OAuth Settings > Consumer Key and Secret) and give it to validate: POST …/migration/validate {"clientId": "…"}.',
      `Keep ${user}'s profile or permission set as it is: API Enabled and the permissions the connection declares are checked again after the switch.`,
    ]
  }
  return [
    'Setup > External Client App Manager > New External Client App (or App Manager > New Connected App where still allowed); enable OAuth with the scope "Manage user data via APIs (api)".',
    'Check "Enable Client Credentials Flow".',
    `Policies: set the Run As (execution) user to ${runAs ?? 'the integration user'}${runAs ? ' (the user this connection logs in as today)' : ''} — ideally an API-only user with the profile or permission set the connection needs. Every session of this connection acts as that user.`,
    'Copy the Consumer Key and Consumer Secret and give them to validate: POST …/migration/validate {"clientId": "…", "clientSecret": "…"}.',
    `Logins go to the org's My Domain only (${d.loginUrl}); login.salesforce.com and test.salesforce.com refuse this flow.`,
  ]
}

/** The one thing to fix next, for the classification a validating login answered. */
export function nextStep (target: MigrationTarget, classification: Classification): string {
  switch (classification) {
    case 'ok': return 'Salesforce accepted the new definition: complete the migration (POST …/migration/complete). Nothing has switched yet.'
    case 'user_not_approved':
      return target === 'jwt_bearer'
        ? 'Pre-authorize the user: in the app\'s policies set Permitted Users to "Admin approved users are pre-authorized" and add the integration user\'s profile or a permission set assigned to them.'
        : 'Pre-authorize the Run As user: add their profile or a permission set assigned to them to the app\'s policies.'
    case 'invalid_client':
      return target === 'jwt_bearer'
        ? 'Check the consumer key: copy it from the app (Consumer Key and Secret) and validate again with {"clientId": "…"}. A new app takes up to 10 minutes before Salesforce knows it.'
        : 'Check the consumer key and secret: copy both from the app and validate again with {"clientId": "…", "clientSecret": "…"}.'
    case 'invalid_assertion':
      return 'Upload the certificate (GET …/migration/certificate) to the app under "Use digital signatures" — the one of this migration, not an older one — and check the audience: a production org or its My Domain needs https://login.salesforce.com as login URL, a sandbox https://test.salesforce.com.'
    case 'invalid_credentials':
      return 'Salesforce refused the client credentials: check the consumer secret, and that the app is the one whose key you gave.'
    case 'flow_not_enabled':
      return target === 'jwt_bearer'
        ? 'Enable the flow on the app: OAuth enabled with "Use digital signatures" (JWT Bearer Flow), and check the org allows it.'
        : 'Enable "Client Credentials Flow" on the app and set its Run As user; check the login URL is the org\'s My Domain.'
    case 'inactive_user': return 'The user is frozen or inactive: reactivate them in Setup > Users.'
    case 'api_disabled': return 'Give the user "API Enabled" through their profile or a permission set.'
    case 'ip_or_hours_restricted': return 'Admit the broker\'s egress IPs (profile Login IP Ranges or the app\'s IP Relaxation) and lift login hours.'
    case 'login_rate_exceeded': return 'Salesforce is refusing this user\'s logins for the rest of the hour: validate again later.'
    case 'unreachable': return 'Salesforce could not be reached: validate again shortly.'
    default: return 'See the message and hint; fix it in Setup and validate again.'
  }
}
