import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { ChatError } from '../src/domain/errors.js'
import { errorResponses } from '../src/schemas/common.js'

/** Stable codes for the framework's own 4xx errors. */
const FRAMEWORK_CODES: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is too large.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as application/json.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_JSON', message: 'The request body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'INVALID_JSON',
    message: 'The request body is empty but its content type is JSON.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_BODY', message: 'The Content-Length does not match the body.' },
}

const CODES_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
}

/** Methods whose requests may carry a body, which the content-type parsers read (and can refuse). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * One place that turns every failure into `{error, code, statusCode}`. Domain refusals keep their
 * code; validation names the bad field; a 5xx is logged and answered without its details. The answers
 * it can give on any route are added to each route's documented responses.
 */
export default fp(
  async (fastify) => {
    fastify.setErrorHandler((error: FastifyError | ChatError, request, reply) => {
      if (error instanceof ChatError) {
        if (error.retryAfterSeconds !== undefined && !reply.hasHeader('retry-after')) {
          reply.header('retry-after', error.retryAfterSeconds)
        }
        return reply
          .code(error.statusCode)
          .send({ error: error.message, code: error.code, statusCode: error.statusCode })
      }
      if (error.validation) {
        return reply.code(400).send({ error: error.message, code: 'VALIDATION_ERROR', statusCode: 400 })
      }
      const status = error.statusCode ?? 500
      if (status >= 400 && status < 500) {
        const known = FRAMEWORK_CODES[error.code]
        return reply.code(status).send({
          error: known?.message ?? error.message,
          code: known?.code ?? CODES_BY_STATUS[status] ?? 'BAD_REQUEST',
          statusCode: status,
        })
      }
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ error: 'Internal server error.', code: 'INTERNAL_ERROR', statusCode: 500 })
    })

    // Every route can fail on the server's side, and refuse while the server shuts down (503); every route
    // that reads a body can refuse it (bad JSON, too large, not JSON) before its own schema is checked, and
    // the router refuses an over-long path parameter:
    // document those answers on each route beside the ones it lists itself, so that a client generated from
    // the document knows every error it may get.
    fastify.addHook('onRoute', (route) => {
      const { schema } = route
      if (!schema?.response || schema.hide) return
      const readsBody = [route.method].flat().some((method) => BODY_METHODS.has(method))
      const hasParams = route.url.includes(':') // the router refuses an over-long one with 414
      const anyRoute = {
        ...(readsBody ? errorResponses(400, 413, 415) : {}),
        ...(hasParams ? errorResponses(414) : {}),
        ...errorResponses(500, 503),
      }
      // A new schema object: route schemas are shared module constants, never changed in place.
      route.schema = { ...schema, response: { ...anyRoute, ...(schema.response as Record<string, unknown>) } }
    })

    fastify.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0]
      return reply
        .code(404)
        .send({ error: `No route ${request.method} ${path}.`, code: 'ROUTE_NOT_FOUND', statusCode: 404 })
    })
  },
  { name: 'chatserver-errors' },
)
