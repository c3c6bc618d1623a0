import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { metricsRefusal } from '../../plugins/metrics-access.js'
import { errorResponses } from '../../src/schemas/common.js'

const metricsSchema = (tokenRequired: boolean) => ({
  tags: ['health'],
  summary: 'Prometheus metrics',
  operationId: 'getMetrics',
  description:
    'This instance’s metrics in the Prometheus text format, from a registry of the chat server’s own: ' +
    '`chatserver_sockets_open`, `chatserver_messages_stored_total{conversation}`, ' +
    '`chatserver_frames_delivered_total`, `chatserver_fanout_duration_seconds`, `chatserver_hub_publish_failures_total`, ' +
    '`chatserver_ws_frames_rejected_total{code}` and `chatserver_http_request_duration_seconds{method,route,status_code}`. ' +
    'With `METRICS_TOKEN` set it needs `Authorization: Bearer <METRICS_TOKEN>` (else 401). ' +
    'Absent (404) when metrics are turned off (`METRICS=false`), when they are served on a port of their own ' +
    '(`METRICS_PORT`), and in production without a `METRICS_TOKEN`.',
  response: {
    200: {
      description: 'The metrics, in the Prometheus text exposition format.',
      content: { 'text/plain': { schema: Type.String() } },
    },
    ...(tokenRequired ? errorResponses(401) : {}),
  },
})

/**
 * `GET /metrics` for Prometheus. Not registered when metrics are off or have a port of their own; in
 * production, only with a token: the metrics say how busy the server is and how it is used, not for everyone.
 */
const metrics: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry } = fastify.chatMetrics
  const { metricsPort, metricsToken, production } = fastify.chatConfig
  if (!registry || metricsPort !== undefined) return
  if (production && metricsToken === undefined) {
    fastify.log.warn('Metrics are not served: in production set METRICS_TOKEN, or METRICS_PORT for a port of their own')
    return
  }
  fastify.get(
    '/metrics',
    {
      schema: metricsSchema(metricsToken !== undefined),
      onRequest: async (request, reply) => {
        const refusal = metricsRefusal(request.headers.authorization, metricsToken)
        if (refusal) return reply.code(401).send({ ...refusal, statusCode: 401 })
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  )
}

export default metrics
