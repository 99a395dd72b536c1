import t from 'tap'
import { definitionToFields, fieldsToDefinition } from '../../src/secrets/definition-fields.ts'

t.test('readiness declarations survive the flat string map of a KV secret', async t => {
  const definition = {
    flow: 'soap' as const,
    loginUrl: 'https://login.salesforce.com',
    username: 'u@x.example',
    apiVersion: '62.0',
    sessionTimeoutSeconds: 7200,
    requiredPermissions: ['PermissionsApiEnabled', 'PermissionsModifyAllData'],
    passwordExpiresAfterDays: 90,
  }
  const fields = definitionToFields(definition)
  t.equal(fields.requiredPermissions, 'PermissionsApiEnabled,PermissionsModifyAllData')
  t.equal(fields.passwordExpiresAfterDays, '90')
  t.same(fieldsToDefinition(fields), definition)
  t.same(fieldsToDefinition({ ...fields, requiredPermissions: ' PermissionsApiEnabled , ' }).requiredPermissions, ['PermissionsApiEnabled'], 'as an operator types it with vault kv put')
  const without = fieldsToDefinition(definitionToFields({ ...definition, requiredPermissions: undefined, passwordExpiresAfterDays: undefined }))
  t.notOk('requiredPermissions' in without || 'passwordExpiresAfterDays' in without)
})
