import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

const metricsSchema = {
  tags: ['health'],
  summary: 'Prometheus metrics',
  operationId: 'getMetrics',
  description:
    'This instance’s metrics in the Prometheus text format, from a registry of the chat server’s own: ' +
    '`chatserver_sockets_open`, `chatserver_messages_stored_total{conversation}`, ' +
    '`chatserver_frames_delivered_total`, `chatserver_fanout_duration_seconds`, ' +
    '`chatserver_ws_frames_rejected_total{code}` and `chatserver_http_request_duration_seconds{method,route,status_code}`. ' +
    'Absent (404) when metrics are turned off (`METRICS=false`).',
  response: {
    200: {
      description: 'The metrics, in the Prometheus text exposition format.',
      content: { 'text/plain': { schema: Type.String() } },
    },
  },
}

/** `GET /metrics` for Prometheus; not registered when metrics are off. */
const metrics: FastifyPluginAsyncTypebox = async (fastify) => {
  const { registry } = fastify.chatMetrics
  if (!registry) return
  fastify.get('/metrics', { schema: metricsSchema }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  )
}

export default metrics
