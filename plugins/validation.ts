import type { Options } from 'ajv'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import fp from 'fastify-plugin'

const shared: Options = { useDefaults: true, removeAdditional: true, allErrors: false, strict: false }

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...shared, ...options })
  addFormats.default(ajv)
  return ajv
}

/**
 * Two validators: path and query strings are text, so they are coerced (`?limit=5` becomes 5);
 * JSON bodies are not, so `{"content": 123}` is refused rather than quietly turned into "123".
 */
export default fp(
  async (fastify) => {
    const coercing = makeAjv({ coerceTypes: 'array' })
    const strict = makeAjv({ coerceTypes: false })
    fastify.setValidatorCompiler(({ schema, httpPart }) =>
      httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
    )
  },
  { name: 'chatserver-validation' },
)
