import t from 'tap'
import { allowedValues, describeSchemaError, EXPECTED } from '../../src/config/schema-error.ts'

const PROPERTIES = {
  LOG_LEVEL: { anyOf: [{ const: 'info' }, { const: 'debug' }] },
  MODE: { enum: ['a', 'b'] },
  DOCS_ENABLED: { type: 'boolean' },
  REDIS_KEY_PREFIX: { type: 'string', pattern: '^[^{}]*$', [EXPECTED]: 'a prefix without { or }' },
  PORT: { type: 'integer' },
}

t.test('allowedValues lists the choices of unions, enums and booleans, nothing for free values', async (t) => {
  t.same(allowedValues(PROPERTIES.LOG_LEVEL), ['info', 'debug'])
  t.same(allowedValues(PROPERTIES.MODE), ['a', 'b'])
  t.same(allowedValues(PROPERTIES.DOCS_ENABLED), ['true', 'false'])
  t.equal(allowedValues(PROPERTIES.PORT), undefined)
})

t.test('describeSchemaError names the variable and what it must be, never the value', async (t) => {
  t.equal(describeSchemaError({ instancePath: '/LOG_LEVEL', message: 'must match', params: {} }, PROPERTIES), 'invalid LOG_LEVEL: must be one of: info, debug')
  t.equal(describeSchemaError({ instancePath: '/REDIS_KEY_PREFIX', message: 'must match pattern', params: {} }, PROPERTIES), 'invalid REDIS_KEY_PREFIX: expected a prefix without { or }')
  t.equal(describeSchemaError({ instancePath: '/PORT', message: 'must be integer', params: {} }, PROPERTIES), 'invalid PORT: must be integer')
  t.equal(describeSchemaError({ instancePath: '', message: 'must have required properties', params: { requiredProperties: ['HOST'] } }, PROPERTIES), 'invalid HOST: must have required properties')
})
