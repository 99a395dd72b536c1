import t from 'tap'
import { definitionToFields, fieldsToDefinition } from '../../src/secrets/definition-fields.ts'
import type { ConnectionDefinition } from '../../src/salesforce/types.ts'

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

t.test('every field of a connection survives the flat string map, its non-default values included', async t => {
  // Required<>: a field added to ConnectionDefinition fails the type check here until it is listed (and stored)
  const definition: Required<ConnectionDefinition> = {
    flow: 'jwt_bearer',
    loginUrl: 'https://acme.my.salesforce.com',
    username: 'u@x.example',
    apiVersion: '62.0',
    sessionTimeoutSeconds: 900,
    auditSessions: false,
    acceptRetiredFlow: true,
    clientId: 'consumer-key',
    requiredPermissions: ['PermissionsApiEnabled'],
    passwordExpiresAfterDays: 60,
    transitKey: 'sf-broker-acme',
    jwtAudience: 'https://acme.my.salesforce.com',
    certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    password: 'p',
    securityToken: 't',
    clientSecret: 's',
    privateKey: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
  }
  t.same(fieldsToDefinition(definitionToFields(definition)), definition)
  t.equal(fieldsToDefinition(definitionToFields({ ...definition, auditSessions: true })).auditSessions, undefined, 'the default (audited) is not stored')
  t.equal(fieldsToDefinition({ ...definitionToFields(definition), auditSessions: false }).auditSessions, false, 'as JSON written with vault kv put')
})
